//! What organizers actually send and want back (issue 12), end to end against moto.

use crate::common::*;

const EVENT: &str = "team-offsite";

async fn fixture(name: &str) -> Fixture {
    let f = Fixture::new(name).await;
    f.seed_event(EVENT, &f.sender).await;
    f
}

/// A single-part email from `from` with `subject` and a plain-text `body`, as SES stores it.
fn text_email(from: &str, subject: &str, body: &str) -> Vec<u8> {
    format!(
        "{}From: \"Org Anizer\" <{from}>\r\nTo: bulk@calendarsnack.com\r\nSubject: {subject}\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}",
        ses_headers(from)
    )
    .into_bytes()
}

/// A list attached as `attendees.csv`, with `subject`.
fn csv_email(from: &str, subject: &str, csv: &str) -> Vec<u8> {
    let ses = ses_headers(from);
    email_with_attachment(
        &ses,
        from,
        subject,
        "attendees.csv",
        "text/csv",
        csv.as_bytes(),
    )
}

#[tokio::test]
async fn misspelt_domains_are_not_sent_and_the_summary_says_what_was_meant() {
    let f = fixture("typos").await;
    let csv = format!(
        "uid,email\n{EVENT},ann@gmial.com\n{EVENT},bob@hotmial.com\n{EVENT},cy@yahoo.con\n\
         {EVENT},dee@mail.com\n{EVENT},eve@gmail.com\n"
    );
    assert!(failed_ids(&f.run_csv(&csv).await).is_empty());
    let sent: Vec<String> = invited(&f.published())
        .into_iter()
        .map(|(_, e)| e)
        .collect();
    assert_eq!(sent, ["dee@mail.com", "eve@gmail.com"]);
    let (text, _) = bodies(&only_email(&f));
    for line in [
        "row 2, team-offsite, ann@gmial.com: did you mean ann@gmail.com?",
        "row 3, team-offsite, bob@hotmial.com: did you mean bob@hotmail.com?",
        "row 4, team-offsite, cy@yahoo.con: did you mean cy@yahoo.com?",
        "team-offsite: 2 invites sent",
        "team-offsite: 3 not sent.",
    ] {
        assert!(text.contains(line), "{line:?} in\n{text}");
    }
}

#[tokio::test]
async fn typo_hints_can_be_turned_off() {
    let mut f = fixture("typos-off").await;
    f.configure(|c| c.typo_check = false);
    let csv = format!("uid,email\n{EVENT},ann@gmial.com\n");
    assert!(failed_ids(&f.run_csv(&csv).await).is_empty());
    assert_eq!(f.published().len(), 1);
}

#[tokio::test]
async fn first_and_last_name_columns_become_the_invite_name() {
    let f = fixture("split-names").await;
    let csv = format!(
        "Email,UID,First Name,Last Name\nann@example.com,{EVENT},Ann,Lee\n\
         bob@example.com,{EVENT},Bob,\n"
    );
    assert!(failed_ids(&f.run_csv(&csv).await).is_empty());
    let names: Vec<String> = f
        .published()
        .iter()
        .map(|m| inner(m)["request"]["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["Ann Lee", "Bob"]);
}

#[tokio::test]
async fn a_list_pasted_into_the_body_is_read_and_named() {
    let f = fixture("body-list").await;
    let body = format!(
        "Hi,\r\n\r\nplease invite:\r\n\r\nuid,email,name\r\n{EVENT},ann@example.com,Ann\r\n\
         {EVENT},not-an-address,Bad\r\n{EVENT},bob@example.com,Bob\r\n\r\nThanks!\r\n-- \r\nOrg\r\n"
    );
    let response = f.run_email(text_email(&f.sender, "invites", &body)).await;
    assert!(failed_ids(&response).is_empty());
    let sent: Vec<String> = invited(&f.published())
        .into_iter()
        .map(|(_, e)| e)
        .collect();
    assert_eq!(sent, ["ann@example.com", "bob@example.com"]);
    let (text, html) = bodies(&only_email(&f));
    assert!(text.contains("the message body: 3 rows"), "{text}");
    // Rows are counted from the list's header line, as in a file.
    assert!(
        text.contains("row 3, team-offsite, not-an-address: invalid email"),
        "{text}"
    );
    assert!(html.contains("the message body"), "{html}");
}

#[tokio::test]
async fn a_list_in_an_html_only_mail_is_read_from_its_text() {
    let f = fixture("html-list").await;
    let raw = format!(
        "{}From: <{from}>\r\nTo: bulk@calendarsnack.com\r\nSubject: list\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>Invite:</p>\
         <p>uid,email<br>{EVENT},ann@example.com<br>{EVENT},bob@example.com</p></body></html>\r\n",
        ses_headers(&f.sender),
        from = f.sender
    );
    assert!(failed_ids(&f.run_email(raw.into_bytes()).await).is_empty());
    assert_eq!(f.published().len(), 2, "{:?}", bodies(&only_email(&f)).0);
}

#[tokio::test]
async fn a_preview_checks_everything_sends_nothing_and_the_real_send_still_works() {
    let f = fixture("preview").await;
    f.seed_block("blocker@example.com", &f.sender).await;
    let csv = format!(
        "uid,email\n{EVENT},ann@example.com\n{EVENT},blocker@example.com\nno-such-event,cy@example.com\n"
    );
    let response = f
        .run_email(csv_email(&f.sender, "Guests (dry run)", &csv))
        .await;
    assert!(failed_ids(&response).is_empty());
    assert!(f.published().is_empty(), "a preview publishes nothing");
    let preview = only_email(&f);
    assert_eq!(
        preview.subject(),
        Some("calendarsnack.com Bulk Invite Preview")
    );
    let (text, _) = bodies(&preview);
    for line in [
        "Preview: nothing was sent.",
        "team-offsite: 1 invites would be sent",
        "team-offsite: 1 would not be sent.",
        "no-such-event: 1 would not be sent.",
        "blocker@example.com: blocked",
        "cy@example.com: unknown event",
        "Total: 1 invites would be sent, 2 would not be sent.",
    ] {
        assert!(text.contains(line), "{line:?} in\n{text}");
    }
    assert!(!text.contains(": 1 invites sent"), "{text}");

    // The same list, sent for real.
    let response = f.run_email(csv_email(&f.sender, "Guests", &csv)).await;
    assert!(failed_ids(&response).is_empty());
    assert_eq!(
        invited(&f.published()),
        [(EVENT.to_string(), "ann@example.com".to_string())]
    );
    let emails = f.emails();
    assert_eq!(emails.len(), 2);
    assert_eq!(
        emails[1].subject(),
        Some("calendarsnack.com Bulk Invite Status")
    );
    assert!(
        bodies(&emails[1])
            .0
            .contains("team-offsite: 1 invites sent")
    );
}

/// A `guests` email from `from` with one attachment.
fn email_with_file(from: &str, file_name: &str, content_type: &str, bytes: &[u8]) -> Vec<u8> {
    let ses = ses_headers(from);
    email_with_attachment(&ses, from, "guests", file_name, content_type, bytes)
}

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
const ODS: &str = "application/vnd.oasis.opendocument.spreadsheet";

/// The list every spreadsheet fixture holds: sheet "Guests" (a uid typed as a date, a uid typed
/// as a number, an empty row, a bad address, a misspelt domain), sheet "Notes" (no list), sheet
/// "More" (one more row). Runs it and checks what landed.
async fn run_guests_workbook(name: &str, file_name: &str, content_type: &str, bytes: &[u8]) {
    let f = Fixture::new(name).await;
    for uid in ["2026-05-01", "12345", EVENT] {
        f.seed_event(uid, &f.sender).await;
    }
    let raw = email_with_file(&f.sender, file_name, content_type, bytes);
    assert!(failed_ids(&f.run_email(raw).await).is_empty());
    let (text, html) = bodies(&only_email(&f));
    assert_eq!(
        invited(&f.published()),
        [
            ("12345".to_string(), "bob@example.com".to_string()),
            ("2026-05-01".to_string(), "ann@example.com".to_string()),
            (EVENT.to_string(), "dee@example.com".to_string()),
        ],
        "{text}"
    );
    let names: Vec<String> = f
        .published()
        .iter()
        .map(|m| inner(m)["request"]["name"].as_str().unwrap().to_string())
        .collect();
    assert!(names.contains(&"Ann".to_string()), "{names:?}");
    for line in [
        format!("{file_name}, sheet \"Guests\": 4 rows"),
        format!("{file_name}, sheet \"More\": 1 rows"),
        format!("{file_name}, sheet \"Guests\", row 5, 2026-05-01, not-an-address: invalid email"),
        format!(
            "{file_name}, sheet \"Guests\", row 6, team-offsite, cy@gmial.com: did you mean cy@gmail.com?"
        ),
    ] {
        assert!(text.contains(&line), "{line:?} in\n{text}");
    }
    assert!(
        !text.contains("Notes"),
        "a sheet without a list is not read:\n{text}"
    );
    assert!(html.contains("sheet &quot;Guests&quot;"), "{html}");
}

#[tokio::test]
async fn an_ods_from_libreoffice_is_read_sheet_by_sheet() {
    let bytes = std::fs::read("tests/fixtures/sheets/guests-libreoffice.ods").unwrap();
    run_guests_workbook("ods", "guests.ods", ODS, &bytes).await;
}

#[tokio::test]
async fn an_xlsx_from_libreoffice_is_read_sheet_by_sheet() {
    let bytes = std::fs::read("tests/fixtures/sheets/guests-libreoffice.xlsx").unwrap();
    run_guests_workbook("xlsx-lo", "guests.xlsx", XLSX, &bytes).await;
}

#[tokio::test]
async fn an_xlsx_written_as_excel_writes_it_is_read_sheet_by_sheet() {
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
    let mut workbook = Workbook::new();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let guests = workbook.add_worksheet().set_name("Guests").unwrap();
    for (column, header) in ["uid", "email", "name"].into_iter().enumerate() {
        guests.write_string(0, column as u16, header).unwrap();
    }
    let may_first = ExcelDateTime::from_ymd(2026, 5, 1).unwrap();
    guests
        .write_datetime_with_format(1, 0, &may_first, &date)
        .unwrap();
    guests.write_string(1, 1, "ann@example.com").unwrap();
    guests.write_string(1, 2, "Ann").unwrap();
    guests.write_number(3, 0, 12345).unwrap();
    guests.write_string(3, 1, "bob@example.com").unwrap();
    guests.write_string(3, 2, "Bob").unwrap();
    guests.write_string(4, 0, "2026-05-01").unwrap();
    guests.write_string(4, 1, "not-an-address").unwrap();
    guests.write_string(4, 2, "Bad").unwrap();
    guests.write_string(5, 0, EVENT).unwrap();
    guests.write_string(5, 1, "cy@gmial.com").unwrap();
    guests.write_string(5, 2, "Cy").unwrap();
    let notes = workbook.add_worksheet().set_name("Notes").unwrap();
    notes
        .write_string(0, 0, "Remember to invite the partners")
        .unwrap();
    let more = workbook.add_worksheet().set_name("More").unwrap();
    more.write_string(0, 0, "uid").unwrap();
    more.write_string(0, 1, "email").unwrap();
    more.write_string(1, 0, EVENT).unwrap();
    more.write_string(1, 1, "dee@example.com").unwrap();
    let bytes = workbook.save_to_buffer().unwrap();
    run_guests_workbook("xlsx-excel", "guests.xlsx", XLSX, &bytes).await;
}

#[tokio::test]
async fn an_xls_from_libreoffice_is_read_sheet_by_sheet() {
    let bytes = std::fs::read("tests/fixtures/sheets/guests-libreoffice.xls").unwrap();
    run_guests_workbook("xls-lo", "guests.xls", "application/vnd.ms-excel", &bytes).await;
}

#[tokio::test]
async fn an_xlsb_workbook_gets_an_answer_naming_it() {
    let f = fixture("xlsb").await;
    let raw = email_with_file(
        &f.sender,
        "guests.xlsb",
        "application/vnd.ms-excel.sheet.binary.macroEnabled.12",
        b"PK\x03\x04 not read",
    );
    assert!(failed_ids(&f.run_email(raw).await).is_empty());
    assert!(f.published().is_empty());
    let (text, _) = bodies(&only_email(&f));
    assert!(
        text.contains(
            "guests.xlsb: Excel binary workbooks (.xlsb) are not read: save it as .xlsx, .xls, \
             .ods or .csv"
        ),
        "{text}"
    );
}
