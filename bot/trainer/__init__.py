"""Keeping the assistant current: the NLU inbox (what it misunderstood, from live traffic),
writing accepted examples into `nlu_data/`, and releasing a new model into the running Rasa.

`rasa_channel` runs inside the Rasa server and must stay light: this package imports nothing.
"""
