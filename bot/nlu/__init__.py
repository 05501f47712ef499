"""Custom Rasa NLU components for Vietnamese (with or without diacritics) and English.

Referenced from config.yml by module path:
- tokenizer.VietnameseTokenizer: word segmentation, shorthand, folded lemmas, exact offsets.
- intent_blend.LinearIntentBlender: DIET's intent ranking averaged with a linear model.
- command_classifier.CorrectionCommandClassifier: the summary's edit commands are `inform`.
- synonyms.FoldedSynonymMapper: category / service wordings to ids, accents optional.
- ticket_phone.TicketPhoneExtractor: ticket codes and phone numbers, normalised.
- language_detector.LanguageDetector: the `language` entity (vi / en) for the language slot.

`tiepdan nlu eval` / `tiepdan nlu check` live in cli.py (evaluate.py, check.py). This module
imports nothing, so importing the package does not load Rasa or TensorFlow.
"""
