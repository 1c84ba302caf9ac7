DROP TABLE outputs;
DROP TABLE calc_logs;
DROP TABLE calcs;
