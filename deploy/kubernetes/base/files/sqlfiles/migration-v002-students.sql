-- v002: the students table read by GET / and its test data.
-- Idempotent: played once by the image's /docker-entrypoint-initdb.d on a new
-- volume, then again by the migrate step at every start (existing volumes).
-- One transaction, so a failure leaves nothing half-created.
BEGIN;

CREATE TABLE IF NOT EXISTS students (
    id         SERIAL       PRIMARY KEY,
    nom        VARCHAR(100) NOT NULL CHECK (btrim(nom) <> ''),
    promo      VARCHAR(50)  NOT NULL CHECK (btrim(promo) <> ''),
    CONSTRAINT students_nom_promo_key UNIQUE (nom, promo)
);

-- Seed only a table that has never held a row: students deleted later by an
-- operator must not come back at the next start. Emptiness alone cannot tell
-- (an emptied table is empty too); the id sequence can: it has been called
-- once any row was inserted.
INSERT INTO students (nom, promo)
SELECT seed.nom, seed.promo
FROM (VALUES
    ('Camille Martin',    'M2 Informatique'),
    ('Lucas Bernard',     'M2 Informatique'),
    ('Léa Dubois',        'M2 Informatique'),
    ('Hugo Thomas',       'M2 Cybersécurité'),
    ('Chloé Robert',      'M2 Cybersécurité'),
    ('Louis Richard',     'M2 Data Science'),
    ('Manon Petit',       'M2 Data Science'),
    ('Nathan Durand',     'M2 Cloud & DevOps'),
    ('Inès Leroy',        'M2 Cloud & DevOps'),
    ('Théo Moreau',       'M2 Informatique')
) AS seed (nom, promo)
WHERE NOT EXISTS (SELECT 1 FROM students)
  AND NOT (SELECT is_called FROM students_id_seq);

COMMIT;
