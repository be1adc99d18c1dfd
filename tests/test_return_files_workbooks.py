"""Workbooks, damaged or with more in them than the figures: each is one plain rejection that names the sheet.

Every file here is built in the test, from a valid return, by changing one thing in the workbook's zip: a
sheet's XML cut short, a shared string that is not there, a hidden sheet, a VBA project under another name...
"""

from __future__ import annotations

import io
import re

import pytest
from openpyxl import Workbook, load_workbook

from checks.return_contract import COLUMN_NAMES
from checks.return_files import ReturnFileError, read_return_file
from checks.return_validation import ACCEPTED, REJECTED
from tests.returns_helpers import VALID, check, row, xlsx_bytes, zip_members, zip_parts

SHEET = "xl/worksheets/sheet1.xml"
OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
VALID_XLSX = xlsx_bytes(VALID)


def changed(content: bytes, **replacements: bytes | None) -> bytes:
    """The workbook with parts replaced, added or (None) removed; keys use '__' for '/' and '_dot_' for '.'."""
    parts = zip_members(content)
    for key, data in replacements.items():
        name = key.replace("__", "/").replace("_dot_", ".")
        if data is None:
            parts.pop(name, None)
        else:
            parts[name] = data
    return zip_parts(parts)


def with_part(content: bytes, name: str, data: bytes, content_type: str | None = None,
              relation: tuple[str, str] | None = None) -> bytes:
    """Add a part, optionally declared in [Content_Types].xml and related from the workbook."""
    parts = zip_members(content)
    parts[name] = data
    if content_type:
        parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(
            b"</Types>", f'<Override PartName="/{name}" ContentType="{content_type}"/></Types>'.encode())
    if relation:
        kind, target = relation
        parts["xl/_rels/workbook.xml.rels"] = parts["xl/_rels/workbook.xml.rels"].replace(
            b"</Relationships>",
            f'<Relationship Id="rIdX9" Type="{kind}" Target="{target}"/></Relationships>'.encode())
    return zip_parts(parts)


def workbook(*sheets: tuple[str, list[list[object]], str], active: int = 0) -> bytes:
    """A workbook of (title, rows, state) sheets, in that order."""
    book = Workbook()
    book.remove(book.active)
    for title, rows, state in sheets:
        sheet = book.create_sheet(title)
        for values in rows:
            sheet.append(values)
        sheet.sheet_state = state
    book.active = active
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def return_rows(values: dict | None = None) -> list[list[object]]:
    values = values or VALID
    return [COLUMN_NAMES, [int(v) if v.isdigit() else (v or None) for v in (values[c] for c in COLUMN_NAMES)]]


def rejection(content: bytes, name: str = "dept.xlsx") -> str:
    report = check(content, name)
    assert report.status == REJECTED, report
    said = " ".join(p.describe() for p in report.problems)
    assert "Traceback" not in said and "Error" not in said, said
    assert said.isprintable(), said
    return said


def assert_read_raises_only_return_file_error(content: bytes, name: str = "dept.xlsx") -> str:
    with pytest.raises(ReturnFileError) as caught:
        read_return_file(content, name)
    return str(caught.value)


# --- A damaged workbook (issue 12): a plain rejection, never a traceback ---------------------------------------


def test_sheet_xml_cut_short():
    cut = zip_members(VALID_XLSX)[SHEET]
    content = changed(VALID_XLSX, xl__worksheets__sheet1_dot_xml=cut[: len(cut) // 2])
    said = rejection(content)
    assert "The 'Return' sheet is damaged and cannot be read" in said
    assert "Save the workbook again from Excel" in said
    assert_read_raises_only_return_file_error(content)


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9, 0.99])
def test_sheet_xml_cut_at_any_point(fraction):
    cut = zip_members(VALID_XLSX)[SHEET]
    content = changed(VALID_XLSX, xl__worksheets__sheet1_dot_xml=cut[: int(len(cut) * fraction)])
    assert check(content, "r.xlsx").status == REJECTED


def _shared_strings_workbook(count: int, index: int) -> bytes:
    """The valid workbook with the organisation code as shared string ``index`` of a table of ``count``."""
    parts = zip_members(VALID_XLSX)
    strings = "".join(f"<si><t>D{i}</t></si>" for i in range(count))
    parts["xl/sharedStrings.xml"] = (
        '<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/'
        f'main" count="{count}" uniqueCount="{count}">{strings}</sst>').encode()
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(
        b"</Types>", b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
                     b'officedocument.spreadsheetml.sharedStrings+xml"/></Types>')
    parts["xl/_rels/workbook.xml.rels"] = parts["xl/_rels/workbook.xml.rels"].replace(
        b"</Relationships>", b'<Relationship Id="rIdSS" Type="http://schemas.openxmlformats.org/officeDocument/'
                             b'2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>')
    parts[SHEET] = re.sub(rb'<c r="A2" t="inlineStr"><is><t>D10</t></is></c>',
                          f'<c r="A2" t="s"><v>{index}</v></c>'.encode(), parts[SHEET])
    assert f'<v>{index}</v>'.encode() in parts[SHEET]
    return zip_parts(parts)


def test_shared_strings_are_read():
    assert check(_shared_strings_workbook(11, 10), "r.xlsx").status == ACCEPTED


def test_a_shared_string_that_is_not_there():
    said = rejection(_shared_strings_workbook(3, 57))
    assert "'Return' sheet is damaged" in said and "refers to text or a part that is not there" in said


def test_a_shared_string_index_that_is_not_a_number():
    content = _shared_strings_workbook(3, 1).replace(b"<v>1</v>", b"<v>one</v>")
    rejection(content)


def test_thirty_in_a_number_cell():
    sheet = zip_members(VALID_XLSX)[SHEET]
    broken = re.sub(rb'(<c r="C2"[^>]*>)<v>30</v>', rb"\1<v>thirty</v>", sheet)
    assert broken != sheet
    said = rejection(changed(VALID_XLSX, xl__worksheets__sheet1_dot_xml=broken))
    assert "'Return' sheet is damaged" in said and "a cell holds a value of the wrong kind" in said


def test_a_date_cell_that_is_not_a_date():
    sheet = zip_members(VALID_XLSX)[SHEET]
    broken = re.sub(rb'<c r="C2"[^>]*><v>30</v>', rb'<c r="C2" t="d"><v>last tuesday</v>', sheet)
    rejection(changed(VALID_XLSX, xl__worksheets__sheet1_dot_xml=broken))


def test_no_worksheet_at_all():
    parts = zip_members(VALID_XLSX)
    parts.pop(SHEET)
    said = rejection(zip_parts(parts))
    assert "damaged" in said or "no worksheet" in said


def test_a_workbook_listing_no_sheets():
    parts = zip_members(VALID_XLSX)
    parts["xl/workbook.xml"] = re.sub(rb"<sheets>.*</sheets>", b"<sheets/>", parts["xl/workbook.xml"])
    assert "The workbook has no worksheet to read" in rejection(zip_parts(parts))


def test_workbook_xml_that_is_not_xml():
    assert "damaged" in rejection(changed(VALID_XLSX, xl__workbook_dot_xml=b"\x00\x01 not xml"))


def test_a_zip_member_that_is_corrupt():
    content = bytearray(VALID_XLSX)
    start = content.find(b"xl/worksheets/sheet1.xml") + 40  # inside the compressed sheet
    content[start:start + 64] = bytes(64)
    assert check(bytes(content), "r.xlsx").status == REJECTED


def test_an_encrypted_zip_member():
    content = bytearray(VALID_XLSX)
    # Set the "encrypted" flag on every entry: zipfile then asks for a password it does not have.
    for match in re.finditer(rb"PK\x01\x02|PK\x03\x04", bytes(content)):
        flag = match.start() + (8 if content[match.start() + 3] == 2 else 6)
        content[flag] |= 1
    assert check(bytes(content), "r.xlsx").status == REJECTED


def test_not_a_zip_at_all():
    assert "is not an Excel workbook" in rejection(b"PK\x03\x04 this is not really a zip")


def test_a_number_too_big_is_shown_as_typed_not_as_309_digits():
    content = xlsx_bytes(VALID)
    book = load_workbook(io.BytesIO(content))
    book["Return"]["N2"] = 1e308
    buffer = io.BytesIO()
    book.save(buffer)
    said = rejection(buffer.getvalue())
    assert "1E+308" in said and "0" * 20 not in said
    assert "Sheet 'Return', row 2, column N (pay_transactions)" in said


# --- What you see is what is read (issue 12) ---------------------------------------------------------------


def test_a_hidden_sheet_with_other_figures_is_refused():
    content = workbook(("Visible", return_rows(), "visible"),
                       ("Return", return_rows(row(pay_services_live="0")), "hidden"))
    said = rejection(content)
    assert "The 'Return' sheet, which holds the return, is hidden" in said and "Unhide" in said


def test_a_hidden_sheet_with_data_beside_the_return_is_refused():
    content = workbook(("Return", return_rows(), "visible"), ("Workings", [["secret", 1]], "hidden"))
    said = rejection(content)
    assert "data on hidden sheet 'Workings'; only" in said and "only the 'Return' sheet is read" in said


def test_a_very_hidden_sheet_with_data_is_refused():
    content = workbook(("Return", return_rows(), "visible"), ("X", [[1]], "veryHidden"))
    assert "'X' (very hidden" in rejection(content)


def test_an_empty_hidden_sheet_is_harmless():
    content = workbook(("Return", return_rows(), "visible"), ("Spare", [], "hidden"))
    assert check(content, "r.xlsx").status == ACCEPTED


def test_the_templates_own_sheets_may_be_hidden():
    content = workbook(("Return", return_rows(), "visible"), ("Lists", [["2025-26 Q3", None, "D10"]], "hidden"),
                       ("Guidance", [["How to fill in the return"]], "visible"))
    assert check(content, "r.xlsx").status == ACCEPTED


def test_data_on_another_sheet_is_refused_naming_both():
    content = workbook(("Return", return_rows(), "visible"), ("Sheet2", [["D10", 31]], "visible"))
    said = rejection(content)
    assert "data on the 'Sheet2' sheet as well as on the 'Return' sheet, which is the one read" in said


def test_guidance_first_reads_the_return_sheet():
    content = workbook(("Guidance", [["How to fill in the return"], ["organisation_code", "x"]], "visible"),
                       ("Return", return_rows(), "visible"))
    assert check(content, "r.xlsx").status == ACCEPTED
    assert read_return_file(content, "r.xlsx").sheet == "Return"


def test_guidance_first_and_the_return_on_a_renamed_sheet():
    content = workbook(("Guidance", [["How to fill in the return"]], "visible"),
                       ("Return (2)", return_rows(row(pay_services_live="x")), "visible"))
    report = check(content, "r.xlsx")
    assert report.sheet == "Return (2)"
    assert [p.describe() for p in report.problems] == [
        "Sheet 'Return (2)', row 2, column L (pay_services_live): 'x' is not a whole number. Enter digits only, "
        "like 5, with no text or decimals."]


def test_a_return_sheet_with_another_heading_names_the_sheet_read():
    content = workbook(("Guidance", [["Column", "What it is"]], "visible"),
                       ("Return", [["Organisation", "Quarter"], ["D10", "2025-26 Q3"]], "visible"))
    said = rejection(content)
    assert "Row 1 of the 'Return' sheet (the sheet read) holds none of the template's 35 column names" in said


def test_the_sheet_name_is_matched_whatever_its_case():
    content = workbook(("Guidance", [["x"]], "visible"), ("return ", return_rows(), "visible"))
    assert check(content, "r.xlsx").status == ACCEPTED


def test_two_candidate_sheets_and_no_return_sheet():
    content = workbook(("A", return_rows(), "visible"), ("B", return_rows(), "visible"))
    assert "figures on more than one sheet ('A', 'B')" in rejection(content)


def test_only_template_sheets_and_no_return():
    content = workbook(("Guidance", [["x"]], "visible"), ("Lists", [["y"]], "visible"))
    assert "has no 'Return' sheet and no other sheet with figures (sheets found: 'Guidance', 'Lists')" in \
        rejection(content)


# --- Active content: refused by what it is, not what it is called (issue 12) ------------------------------------

VBA_TYPE = "application/vnd.ms-office.vbaProject"
VBA_RELATION = "http://schemas.microsoft.com/office/2006/relationships/vbaProject"


def test_a_vba_project_under_another_name_with_its_content_type():
    content = with_part(VALID_XLSX, "xl/printerSettings.bin", OLE + b"\x00" * 504, VBA_TYPE,
                        (VBA_RELATION, "printerSettings.bin"))
    said = rejection(content)
    assert "macros (a VBA project)" in said and "xl/printerSettings.bin" in said


def test_a_vba_project_under_another_name_without_its_content_type():
    said = rejection(with_part(VALID_XLSX, "xl/media/image1.png", OLE + b"\x00" * 504))
    assert "an embedded binary file (an OLE compound file" in said and "xl/media/image1.png" in said


def test_a_vba_project_only_related_from_the_workbook():
    said = rejection(with_part(VALID_XLSX, "xl/data.xml", b"<x/>", None, (VBA_RELATION, "data.xml")))
    assert "macros (a VBA project)" in said


def test_a_vba_project_declared_by_default_extension():
    parts = zip_members(VALID_XLSX)
    parts["xl/stuff.dat"] = b"anything"
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(
        b"</Types>", f'<Default Extension="dat" ContentType="{VBA_TYPE}"/></Types>'.encode())
    assert "macros (a VBA project)" in rejection(zip_parts(parts))


def test_excel4_macro_sheets():
    said = rejection(with_part(VALID_XLSX, "xl/macrosheets/sheet1.xml", b"<xm:macrosheet/>",
                               "application/vnd.ms-excel.macrosheet+xml"))
    assert "Excel 4.0 macro sheets" in said


def test_external_links():
    link = (b'<externalLink xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><externalBook '
            b'r:id="rId1"/></externalLink>')
    said = rejection(with_part(VALID_XLSX, "xl/externalLinks/externalLink1.xml", link,
                               "application/vnd.openxmlformats-officedocument.spreadsheetml.externalLink+xml"))
    assert "links to other workbooks (external links)" in said
    assert "copy the figures into a fresh template" in said


def test_dde_links():
    link = (b'<externalLink xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><ddeLink '
            b'ddeService="cmd" ddeTopic="/c calc"/></externalLink>')
    said = rejection(with_part(VALID_XLSX, "xl/externalLinks/externalLink1.xml", link))
    assert "DDE links" in said


def test_an_external_link_relationship_alone():
    relation = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/externalLink"
    assert "external links" in rejection(with_part(VALID_XLSX, "xl/x.xml", b"<x/>", None, (relation, "x.xml")))


def test_an_embedded_ole_object():
    said = rejection(with_part(VALID_XLSX, "xl/embeddings/oleObject1.bin", OLE + b"\x00" * 504,
                               "application/vnd.openxmlformats-officedocument.oleObject"))
    assert "embedded objects (OLE)" in said or "OLE compound file" in said


def test_an_ole_object_declared_in_the_sheet():
    sheet = zip_members(VALID_XLSX)[SHEET].replace(
        b"</worksheet>", b'<oleObjects><oleObject progId="Package" shapeId="1025" r:id="rId9"/></oleObjects>'
                         b"</worksheet>")
    assert "embedded objects (OLE)" in rejection(changed(VALID_XLSX, xl__worksheets__sheet1_dot_xml=sheet))


def test_activex_and_data_connections():
    assert "ActiveX controls" in rejection(with_part(VALID_XLSX, "xl/activeX/activeX1.xml", b"<ax/>"))
    assert "data connections" in rejection(with_part(VALID_XLSX, "xl/connections.xml", b"<connections/>"))


def test_several_kinds_are_all_named():
    content = with_part(with_part(VALID_XLSX, "xl/embeddings/a.bin", b"x"), "xl/externalLinks/e.xml", b"<e/>")
    said = rejection(content)
    assert "embedded objects (OLE)" in said and "external links" in said


def test_the_valid_workbook_and_the_shipped_sample_are_accepted():
    assert check(VALID_XLSX, "r.xlsx").status == ACCEPTED
    from pathlib import Path

    sample = Path(__file__).parent.parent / "data/returns/samples/ILLUSTRATIVE_D10_2025-26_Q3.xlsx"
    report = check(sample.read_bytes(), sample.name)
    assert report.status != REJECTED, [p.describe() for p in report.problems]
    assert report.sheet == "Return"


def test_workbook_messages_name_the_sheet():
    """Row problems say the sheet; whole-file problems about a sheet say it in the message."""
    report = check(xlsx_bytes(row(pay_services_live="99")), "r.xlsx")
    assert all(p.describe().startswith("Sheet 'Return', row 2") for p in report.problems)
    formula = check(xlsx_bytes(VALID, formulas={"C2": "=1+1"}), "r.xlsx")
    assert "on the 'Return' sheet" in formula.problems[0].message
    assert formula.problems[0].sheet == "Return" and formula.sheet == "Return"
    assert formula.problems[0].located().startswith("r.xlsx: ")


def test_two_rows_in_a_workbook_name_the_sheet():
    report = check(xlsx_bytes(VALID, row(organisation_code="EA73")), "r.xlsx")
    assert report.problems[0].describe().startswith("The 'Return' sheet: The file has 2 rows of figures")


def test_words_that_name_active_content_in_a_note_are_only_words():
    note = "Our oleObject, ddeLink, vbaProject.bin and externalLinks are all retired."
    report = check(xlsx_bytes(row(blockers_note=note)), "r.xlsx")
    assert report.status == ACCEPTED, [p.describe() for p in report.problems]


def _edited(edit) -> bytes:
    """The valid workbook, changed by ``edit(sheet)`` in Excel's way (openpyxl writes what Excel writes)."""
    book = load_workbook(io.BytesIO(VALID_XLSX))
    edit(book["Return"])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _hide_row(sheet):
    sheet.row_dimensions[2].hidden = True


def _hide_column(sheet):
    sheet.column_dimensions["L"].hidden = True


def _merge(sheet):
    sheet["D2"] = None
    sheet["E2"] = None
    sheet.merge_cells("C2:E2")


def _show_nothing(sheet):
    sheet["L2"].number_format = ";;;"


def _white(sheet):
    from openpyxl.styles import Font

    sheet["L2"].font = Font(color="FFFFFFFF")


@pytest.mark.parametrize("edit, said", [
    (_hide_row, "Row 2 of the 'Return' sheet is hidden."),
    (_hide_column, "Column L of the 'Return' sheet is hidden."),
    (_merge, "Cells C2:E2 of the 'Return' sheet are merged."),
    (_show_nothing, "Cell L2 of the 'Return' sheet holds a value that is not shown"),
    (_white, "Cell L2 of the 'Return' sheet holds a value that is not shown"),
])
def test_a_value_the_workbook_does_not_show_refuses_it(edit, said):
    """What you see is what is read: a figure in a hidden row or column, cells merged over others, or a value formatted
    to show nothing would be read and counted though nobody checking the workbook could see it."""
    report = check(_edited(edit), "r.xlsx")
    assert report.status == REJECTED
    assert said in report.problems[0].message, report.problems[0].message
    assert "A return must show what it sends" in report.problems[0].message or "unmerge" in report.problems[0].message


def test_hidden_or_merged_cells_away_from_the_return_and_visible_formats_are_fine():
    def edit(sheet):
        sheet.column_dimensions["AZ"].hidden = True  # beyond the last column
        sheet.row_dimensions[9].hidden = True  # below the return
        sheet.merge_cells("A12:C12")  # empty cells, below it
        sheet["L2"].number_format = "#,##0"
        sheet["C2"].number_format = "0;-0;;@"  # a zero shown as nothing: C2 is not zero
        from openpyxl.styles import Font

        sheet["M2"].font = Font(color="FF000000", bold=True)

    assert check(_edited(edit), "r.xlsx").status == ACCEPTED


def test_the_template_filled_in_as_it_is_written_is_accepted(tmp_path):
    from pipelines.return_commands import template

    template(str(tmp_path))
    book = load_workbook(tmp_path / "department_return_template.xlsx")
    sheet = book["Return"]
    for i, name in enumerate(COLUMN_NAMES, start=1):
        value = VALID[name]
        sheet.cell(row=2, column=i, value=int(value) if value.isdigit() else (value or None))
    buffer = io.BytesIO()
    book.save(buffer)
    report = check(buffer.getvalue(), "r.xlsx")
    assert report.status == ACCEPTED, [p.describe() for p in report.problems]


def test_a_whole_number_excel_shows_as_1e20_is_too_large_not_unreadable():
    from checks.return_contract import column_letter

    at = column_letter(COLUMN_NAMES.index("pay_transactions")) + "2"
    report = check(_edited(lambda sheet: sheet.__setitem__(at, 1e20)), "r.xlsx")
    assert [p.message for p in report.problems] == ["1E+20 is more than 10,000,000,000, which no organisation has. "
                                                    "Check the figure."]
    assert report.problems[0].column == "pay_transactions"
