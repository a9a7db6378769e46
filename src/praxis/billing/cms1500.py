"""A CMS-1500 (02/12) paper claim as PDF, for the payers that still take paper (pure: data in,
bytes out). It renders the same `formats.x12.Claim` the 837P is written from, so paper and
electronic claims say the same thing. The layout follows the form's numbered items on plain
paper (a print for the payer's red-ink form is a different job: an overlay at exact offsets).
"""

from __future__ import annotations

from datetime import date

from fpdf import FPDF

from praxis.formats import x12

FILING = {"MB": "Medicare", "MC": "Medicaid", "CH": "TRICARE", "VA": "CHAMPVA", "BL": "Group health plan",
          "CI": "Group health plan", "HM": "Group health plan", "12": "Group health plan", "13": "Group health plan",
          "WC": "Other", "OF": "Other", "ZZ": "Other"}
RELATION = {"18": "Self", "01": "Spouse", "19": "Child", "G8": "Other"}
LETTERS = "ABCDEFGHIJKL"


def _d(day: date | None) -> str:
    return day.strftime("%m %d %Y") if day else ""


def _money(cents: int | None) -> str:
    return "" if cents is None else f"{cents // 100:,}.{cents % 100:02d}"


def _addr(a: x12.Address | None) -> str:
    if a is None:
        return ""
    line2 = f", {a.line2}" if a.line2 else ""
    zipc = f"{a.postal_code[:5]}-{a.postal_code[5:]}" if len(a.postal_code) == 9 else a.postal_code
    return f"{a.line1}{line2}, {a.city} {a.state} {zipc}"


class _Form(FPDF):
    def box(self, x: float, y: float, w: float, h: float, label: str, value: str) -> None:
        self.rect(x, y, w, h)
        self.set_xy(x + 0.8, y + 0.4)
        self.set_font("Helvetica", size=5.5)
        self.cell(w - 1.6, 2.6, label[:120])
        self.set_xy(x + 0.8, y + 3.0)
        self.set_font("Courier", size=8.5)
        self.multi_cell(w - 1.6, 3.4, value, max_line_height=3.4)


def render(claim: x12.Claim, *, amount_paid_cents: int | None = None, rendering_npi: str = "") -> bytes:
    """The CMS-1500 of one claim (one page per six service lines, as on the form)."""
    pdf = _Form(format="letter", unit="mm")
    pdf.set_compression(False)  # small, and its text stays searchable by tests and auditors
    pdf.set_auto_page_break(False)
    pages = [claim.lines[i:i + 6] for i in range(0, len(claim.lines), 6)] or [()]
    sub, pat = claim.subscriber, claim.patient
    patient_name = f"{pat.last_name}, {pat.first_name}" if pat else f"{sub.last_name}, {sub.first_name}"
    patient_dob, patient_sex = (pat.birth_date, pat.sex) if pat else (sub.birth_date, sub.sex)
    patient_addr = _addr(pat.address if pat else sub.address)
    bp = claim.billing_provider
    for n, lines in enumerate(pages, start=1):
        pdf.add_page()
        pdf.set_font("Helvetica", "B", 11)
        pdf.set_xy(10, 8)
        pdf.cell(120, 6, "HEALTH INSURANCE CLAIM FORM")
        pdf.set_font("Helvetica", size=7)
        pdf.set_xy(10, 13)
        pdf.cell(120, 4, "APPROVED BY NATIONAL UNIFORM CLAIM COMMITTEE (NUCC) 02/12 - CMS-1500")
        pdf.set_xy(140, 8)
        payer_addr = _addr(claim.payer.address)
        pdf.multi_cell(66, 3.4, f"{claim.payer.name}\n{payer_addr}\nPayer id {claim.payer.payer_id}"
                                f"\nPage {n} of {len(pages)}")
        y = 24
        pdf.box(10, y, 120, 9, "1. MEDICARE / MEDICAID / TRICARE / CHAMPVA / GROUP HEALTH PLAN / FECA / OTHER",
                FILING.get(sub.claim_filing_indicator, "Other"))
        pdf.box(130, y, 76, 9, "1a. INSURED'S I.D. NUMBER", sub.member_id)
        y += 9
        pdf.box(10, y, 70, 9, "2. PATIENT'S NAME (Last, First)", patient_name)
        pdf.box(80, y, 50, 9, "3. PATIENT'S BIRTH DATE / SEX", f"{_d(patient_dob)}  {patient_sex}")
        pdf.box(130, y, 76, 9, "4. INSURED'S NAME (Last, First)", f"{sub.last_name}, {sub.first_name}")
        y += 9
        pdf.box(10, y, 70, 12, "5. PATIENT'S ADDRESS", patient_addr)
        pdf.box(80, y, 50, 12, "6. PATIENT RELATIONSHIP TO INSURED",
                RELATION.get(pat.relationship_code, "Other") if pat else "Self")
        pdf.box(130, y, 76, 12, "7. INSURED'S ADDRESS", _addr(sub.address))
        y += 12
        other = claim.other_coverages[0] if claim.other_coverages else None
        pdf.box(10, y, 70, 9, "9. OTHER INSURED'S NAME / 9a. POLICY",
                f"{other.subscriber.last_name}, {other.subscriber.first_name} {other.subscriber.member_id}"
                if other else "")
        pdf.box(80, y, 50, 9, "10. CONDITION RELATED TO: EMPL./AUTO/OTHER", "NO / NO / NO")
        pdf.box(130, y, 76, 9, "11. INSURED'S GROUP / 11d. ANOTHER PLAN?",
                f"{sub.group_number}  {'YES' if other else 'NO'}")
        y += 9
        pdf.box(10, y, 98, 9, "12. PATIENT'S OR AUTHORIZED PERSON'S SIGNATURE", "SIGNATURE ON FILE")
        pdf.box(108, y, 98, 9, "13. INSURED'S OR AUTHORIZED PERSON'S SIGNATURE", "SIGNATURE ON FILE")
        y += 9
        ref = claim.referring_provider
        pdf.box(10, y, 98, 9, "17. NAME OF REFERRING PROVIDER / 17b. NPI",
                f"DN {ref.last_name}, {ref.first_name}  {ref.npi}" if ref else "")
        pdf.box(108, y, 98, 9, "19. ADDITIONAL CLAIM INFORMATION", "")
        y += 9
        dx = "   ".join(f"{LETTERS[i]}. {code[:3]}.{code[3:]}" if len(code) > 3 else f"{LETTERS[i]}. {code}"
                       for i, code in enumerate(claim.diagnoses))
        pdf.box(10, y, 120, 12, "21. DIAGNOSIS OR NATURE OF ILLNESS OR INJURY  ICD Ind. 0", dx)
        resub = claim.frequency_code if claim.frequency_code != "1" else ""
        pdf.box(130, y, 76, 6, "22. RESUBMISSION CODE / ORIGINAL REF. NO.",
                f"{resub}  {claim.payer_claim_control_number}" if resub else "")
        pdf.box(130, y + 6, 76, 6, "23. PRIOR AUTHORIZATION NUMBER", claim.prior_authorization)
        y += 12
        pdf.set_font("Helvetica", size=5.5)
        heads = [("24A. DATE(S) OF SERVICE", 34), ("B. POS", 10), ("D. CPT/HCPCS  MODIFIER", 46),
                 ("E. DX PTR", 16), ("F. $ CHARGES", 24), ("G. UNITS", 12), ("J. RENDERING NPI", 54)]
        x = 10.0
        for text, w in heads:
            pdf.set_xy(x, y)
            pdf.cell(w, 4, text, border=1)
            x += w
        y += 4
        pdf.set_font("Courier", size=8.5)
        for i in range(6):
            line = lines[i] if i < len(lines) else None
            cells = ["", "", "", "", "", "", ""]
            if line is not None:
                end = line.service_date_end or line.service_date
                cells = [f"{line.service_date:%m %d %y} {end:%m %d %y}",
                         line.place_of_service or claim.place_of_service,
                         f"{line.procedure_code} {' '.join(line.modifiers)}",
                         "".join(LETTERS[p - 1] for p in line.diagnosis_pointers), _money(line.charge_cents),
                         str(line.units),
                         (claim.rendering_provider.npi if claim.rendering_provider else rendering_npi) or bp.npi]
            x = 10.0
            for (_, w), text in zip(heads, cells, strict=True):
                pdf.set_xy(x, y)
                pdf.cell(w, 7, text, border=1)
                x += w
            y += 7
        last = n == len(pages)
        pdf.box(10, y, 50, 9, "25. FEDERAL TAX I.D. NUMBER  SSN EIN",
                f"{bp.tax_id}  {'SSN' if bp.tax_id_qualifier == 'SY' else 'EIN'}")
        pdf.box(60, y, 40, 9, "26. PATIENT'S ACCOUNT NO.", claim.claim_id)
        pdf.box(100, y, 30, 9, "27. ACCEPT ASSIGNMENT?", "YES" if claim.assignment_code == "A" else "NO")
        pdf.box(130, y, 26, 9, "28. TOTAL CHARGE", _money(claim.total_charge_cents) if last else "")
        pdf.box(156, y, 25, 9, "29. AMOUNT PAID", _money(amount_paid_cents) if last else "")
        pdf.box(181, y, 25, 9, "30. Rsvd for NUCC Use", "")
        y += 9
        pdf.box(10, y, 60, 17, "31. SIGNATURE OF PHYSICIAN OR SUPPLIER", "SIGNATURE ON FILE")
        pdf.box(70, y, 68, 17, "32. SERVICE FACILITY LOCATION INFORMATION", f"{bp.name}\n{_addr(bp.address)}")
        pdf.box(138, y, 68, 17, "33. BILLING PROVIDER INFO & PH # / 33a. NPI",
                f"{bp.name}\n{_addr(bp.address)}\nNPI {bp.npi}  {bp.contact_phone}")
    return bytes(pdf.output())
