-- v004: a student is stored as it looks, and two that look the same are one.
-- Names and promos are stored in Unicode NFC, without the characters that
-- show nothing (zero-width and other format characters, variation
-- selectors, Hangul fillers, controls), with one space between words,
-- trimmed. A value with nothing visible is refused, and so is a word mixing
-- Latin, Cyrillic or Greek letters (a Cyrillic "а" passing for a Latin "a").
-- Uniqueness applies to what a student looks like: the visible form of
-- (nom, promo).
-- Rows stored before this script are never changed nor deleted: a row that
-- breaks one of these rules is reported (a WARNING naming its id), and the
-- rule covers every existing row once the operator has fixed them; new and
-- changed rows are checked from now on.
-- Idempotent, one transaction (played by initdb on a new volume, then by the
-- migrate step at every start).
BEGIN;

-- The visible form: invisible characters removed, every run of spaces (of
-- any kind) as one space, trimmed, then NFC (a removed character may have
-- sat between a letter and its accent).
CREATE OR REPLACE FUNCTION students_visible_text(value text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $function$
    SELECT normalize(
        btrim(
            regexp_replace(
                regexp_replace(
                    value,
                    '[\u0001-\u0008\u000E-\u001F\u007F-\u0084\u0086-\u009F\u00AD\u034F\u061C\u115F\u1160\u17B4\u17B5\u180B-\u180F\u200B-\u200F\u202A-\u202E\u2060-\u206F\u3164\uFE00-\uFE0F\uFEFF\uFFA0\uFFF9-\uFFFB\U0001BCA0-\U0001BCA3\U0001D173-\U0001D17A\U000E0000-\U000E007F\U000E0100-\U000E01EF]',
                    '', 'g'),
                '[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]+',
                ' ', 'g'),
            ' '),
        NFC)
$function$;

-- A word (no space inside) holding letters of two of Latin, Cyrillic and Greek.
CREATE OR REPLACE FUNCTION students_mixes_scripts(value text) RETURNS boolean
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $function$
    SELECT value ~ (
        '([A-Za-z\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u024F\u1E00-\u1EFF][^ ]*[\u0370-\u03FF\u0400-\u052F\u1F00-\u1FFF])'
        || '|([\u0370-\u03FF\u0400-\u052F\u1F00-\u1FFF][^ ]*[A-Za-z\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u024F\u1E00-\u1EFF])'
        || '|([\u0400-\u052F][^ ]*[\u0370-\u03FF\u1F00-\u1FFF])'
        || '|([\u0370-\u03FF\u1F00-\u1FFF][^ ]*[\u0400-\u052F])')
$function$;

-- Every write path (psql, a future admin tool) stores the visible form.
CREATE OR REPLACE FUNCTION students_store_visible_text() RETURNS trigger
    LANGUAGE plpgsql
AS $function$
BEGIN
    NEW.nom := students_visible_text(NEW.nom);
    NEW.promo := students_visible_text(NEW.promo);
    RETURN NEW;
END
$function$;

CREATE OR REPLACE TRIGGER students_store_visible_text
    BEFORE INSERT OR UPDATE OF nom, promo ON students
    FOR EACH ROW EXECUTE FUNCTION students_store_visible_text();

DO $$
DECLARE
    offending text;
BEGIN
    -- NOT VALID: checked on every new or changed row at once, on the
    -- existing rows only once none breaks it.
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'students_visible') THEN
        ALTER TABLE students ADD CONSTRAINT students_visible
            CHECK (students_visible_text(nom) <> '' AND students_visible_text(promo) <> '') NOT VALID;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'students_one_script_per_word') THEN
        ALTER TABLE students ADD CONSTRAINT students_one_script_per_word
            CHECK (NOT students_mixes_scripts(nom) AND NOT students_mixes_scripts(promo)) NOT VALID;
    END IF;

    IF NOT (SELECT convalidated FROM pg_constraint WHERE conname = 'students_visible') THEN
        SELECT string_agg(id::text, ', ' ORDER BY id) INTO offending FROM students
        WHERE students_visible_text(nom) = '' OR students_visible_text(promo) = '';
        IF offending IS NULL THEN
            ALTER TABLE students VALIDATE CONSTRAINT students_visible;
        ELSE
            RAISE WARNING 'students % have a nom or promo with nothing visible: kept as they are; fix or delete them (make psql)', offending;
        END IF;
    END IF;

    IF NOT (SELECT convalidated FROM pg_constraint WHERE conname = 'students_one_script_per_word') THEN
        SELECT string_agg(id::text, ', ' ORDER BY id) INTO offending FROM students
        WHERE students_mixes_scripts(nom) OR students_mixes_scripts(promo);
        IF offending IS NULL THEN
            ALTER TABLE students VALIDATE CONSTRAINT students_one_script_per_word;
        ELSE
            RAISE WARNING 'students % have a word mixing Latin, Cyrillic or Greek letters: kept as they are; fix or delete them (make psql)', offending;
        END IF;
    END IF;

    IF to_regclass('students_visible_nom_promo_key') IS NULL THEN
        SELECT string_agg(twins, '; ') INTO offending FROM (
            SELECT string_agg(id::text, ', ' ORDER BY id) AS twins FROM students
            GROUP BY students_visible_text(nom), students_visible_text(promo)
            HAVING count(*) > 1
        ) AS look_alikes;
        IF offending IS NULL THEN
            CREATE UNIQUE INDEX students_visible_nom_promo_key
                ON students (students_visible_text(nom), students_visible_text(promo));
        ELSE
            RAISE WARNING 'students that look the same (%): kept as they are; once one of each is fixed or deleted (make psql), the next start makes what a student looks like unique', offending;
        END IF;
    END IF;
END
$$;

COMMIT;
