DROP TABLE setup_tokens;
DROP TABLE sessions;
DROP TABLE user_groups;
DROP TABLE groups;
DROP TABLE users;
