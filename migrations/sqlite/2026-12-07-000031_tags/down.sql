DROP TRIGGER calc_tags_update_list_version;
DROP TRIGGER calc_tags_delete_list_version;
DROP TRIGGER calc_tags_insert_list_version;
DROP TABLE calc_tags;
DROP TABLE tags;
