DROP INDEX calcs_user_status;
DROP TABLE group_quotas;
DROP TABLE user_quotas;
