ALTER TABLE users DROP COLUMN notify_on_finish;
DROP TABLE activation_tokens;
DROP TABLE invitations;
DROP TABLE emails;
