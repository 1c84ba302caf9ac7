-- An output the OpenQuake engine lists (Hazard Curves, Hazard Maps...): its datastore key
-- (`hcurves`, the API's `type`) and the formats its exporter writes it in (`csv,npz`, the
-- API's `outtypes`). Both are NULL for a file a generic calculator wrote under output/.
ALTER TABLE outputs ADD COLUMN ds_key TEXT;
ALTER TABLE outputs ADD COLUMN outtypes TEXT;
