-- v003: no markup can enter `students`.
-- The immutable page writes nom and promo with innerHTML: a stored '<' starts
-- a tag (a <meta http-equiv=refresh> sends every visitor elsewhere, and no
-- CSP directive governs it). Without '<' and '>' a value can only ever be
-- text. The check covers every write path (the API never writes; psql, a
-- future admin tool, the migrate step). The API also HTML-encodes what it
-- returns, for rows written before this check.
-- Idempotent, one transaction (played by initdb on a new volume, then by the
-- migrate step at every start).
BEGIN;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'students_no_markup') THEN
        -- NOT VALID: an existing volume with such a row still starts (the row
        -- stays, shown as text by the API); every new or changed row is checked.
        ALTER TABLE students ADD CONSTRAINT students_no_markup
            CHECK (nom !~ '[<>]' AND promo !~ '[<>]') NOT VALID;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM students WHERE nom ~ '[<>]' OR promo ~ '[<>]') THEN
        ALTER TABLE students VALIDATE CONSTRAINT students_no_markup;
    END IF;
END
$$;

COMMIT;
