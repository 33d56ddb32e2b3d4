"""Brazilian Portuguese: the words, dates, CPFs and phone numbers patients write.

One home for the language helpers the NLU components, the services and the actions share:

- :mod:`~clinicbot.ptbr.text`: accent folding, chat abbreviations, the forms text is compared in;
- :mod:`~clinicbot.ptbr.words`: weekday, month and number words;
- :mod:`~clinicbot.ptbr.concepts`: the concept lexicon (yes, no, greeting, money, …) and its cues;
- :mod:`~clinicbot.ptbr.replies`: whole-message answers (yes, no, "prefiro não dizer");
- :mod:`~clinicbot.ptbr.names`: name particles and title-casing;
- :mod:`~clinicbot.ptbr.dates`: reading date, time and period expressions;
- :mod:`~clinicbot.ptbr.formatting`: writing days, times and periods;
- :mod:`~clinicbot.ptbr.cpf`: CPF digits and check digits;
- :mod:`~clinicbot.ptbr.phones`: WhatsApp phone numbers as E.164 digits.

Nothing here imports Rasa, so the action server and the clinic service use it freely.
"""
