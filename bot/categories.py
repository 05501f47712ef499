"""The complaint categories: one list shared by the NLU data, the catalog (which routes each
to exactly one unit) and the tickets."""

CATEGORY_IDS = (
    "water_supply",
    "electricity",
    "drainage",
    "wastewater",
    "roads",
    "street_lighting",
    "waste_collection",
    "noise",
    "trees",
    "urban_order",
    "staff_conduct",
    "admin_procedure",
    "billing",
    "other",
)
