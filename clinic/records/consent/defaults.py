"""Starting consent texts, seeded by the migration; admins write new versions in the app."""
# Frozen: migration 0003 seeds from these values. Later changes to the defaults go in a new migration.

TREATMENT_TEXT = """I, the undersigned, consent to a course of mesotherapy for: {indication}.

The doctor has explained to me:
- what mesotherapy is: micro-injections of a product or a mixture of products into the skin, the scalp or fat deposits, over several sessions;
- the expected effects, which develop over the course and are not guaranteed;
- the usual side effects: redness (6–24 hours), swelling (12–24 hours), small bruises (2–5 days), tenderness (24–48 hours), itching or tingling (1–2 hours), a lump sensation (1–2 days);
- the rare complications: infection, allergic reaction, nodules, and temporary hyperpigmentation, more likely in darker skin;
- the aftercare I must follow, which I will receive in writing after each session.

I have answered the screening questions truthfully and will tell the clinic about any change in my health, medication, pregnancy or breastfeeding before each session.

I know that I can withdraw this consent at any time without giving a reason, and that withdrawal does not affect the care already given."""

PHOTO_TEXT = """I consent to standardised photographs of the treated areas being taken before, during and after my course of mesotherapy.

The photographs are part of my clinical record. They are used to follow my results and are not shown to anyone outside the clinic's care team, nor published, without my separate written agreement.

I can withdraw this consent at any time; photographs already taken stay in my record as required by law."""
