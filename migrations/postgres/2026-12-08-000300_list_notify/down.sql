DROP TRIGGER groups_list_version ON groups;
DROP TRIGGER group_quotas_list_version ON group_quotas;
DROP TRIGGER user_quotas_list_version ON user_quotas;
DROP TRIGGER tags_list_version ON tags;
DROP TRIGGER calc_list_version_notify ON calc_list_version;
DROP FUNCTION calc_list_version_notify();
