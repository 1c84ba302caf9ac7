-- Tags on calculations, as OpenQuake's `tag` and `job_tag` (its schema upgrade 0010): one
-- namespace of tag names, a calculation carries a tag at most once, and at most one
-- calculation is the preferred one of a tag. Removing a calculation or a tag removes its
-- links.
CREATE TABLE tags (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE CHECK (LENGTH(name) > 0)
);

CREATE TABLE calc_tags (
    calc_id BIGINT NOT NULL REFERENCES calcs (id) ON DELETE CASCADE,
    tag_id BIGINT NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    is_preferred BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (calc_id, tag_id)
);
CREATE INDEX calc_tags_tag ON calc_tags (tag_id, calc_id);
CREATE UNIQUE INDEX calc_tags_one_preferred ON calc_tags (tag_id) WHERE is_preferred;

-- Lists filter by tag and show each calculation's tags: a change of the links changes what a
-- list holds (models::list_cache). Deferred to the commit, as calcs_list_version is.
CREATE CONSTRAINT TRIGGER calc_tags_list_version
AFTER INSERT OR DELETE OR UPDATE ON calc_tags DEFERRABLE INITIALLY DEFERRED
FOR EACH ROW EXECUTE FUNCTION calc_list_version_bump();
