DROP INDEX calcs_running;
DROP INDEX calcs_status;
CREATE INDEX calcs_status ON calcs (status, id);
DROP INDEX calcs_owner_shared;
