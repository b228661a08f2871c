-- Speed: partner_json() and referral_json() ran as a separate query per row (a SQL function whose
-- body has a FROM is never inlined), 34 us a row against 4 us for row_to_json. This migration made
-- them, and qualification_score(), single inlinable expressions over the row types partner_doc and
-- referral_doc. Those definitions now live, once, in migrations/json/partner.sql and
-- migrations/json/referral.sql (applied after the numbered migrations, whenever they change); a
-- database migrated before the move already ran this file, a fresh one gets them from there.
SELECT 1;
