ALTER TABLE outputs DROP COLUMN outtypes;
ALTER TABLE outputs DROP COLUMN ds_key;
