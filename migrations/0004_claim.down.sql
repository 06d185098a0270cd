DROP FUNCTION backtick_next_due(text[], text[], timestamptz, timestamptz);
DROP FUNCTION backtick_claim(timestamptz, text[], text[], int8, text, int8);
