DROP TRIGGER calc_tags_list_version ON calc_tags;
DROP TABLE calc_tags;
DROP TABLE tags;
