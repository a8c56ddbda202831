DROP TABLE simplefin_accesses;
