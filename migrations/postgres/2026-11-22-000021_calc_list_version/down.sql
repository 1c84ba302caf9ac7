DROP TRIGGER users_list_version ON users;
DROP TRIGGER user_groups_list_version ON user_groups;
DROP TRIGGER calcs_list_version ON calcs;
DROP FUNCTION calc_list_version_bump();
DROP TABLE calc_list_version;
