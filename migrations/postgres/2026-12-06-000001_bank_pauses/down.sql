DROP TABLE bank_pauses;
