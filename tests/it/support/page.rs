//! Pages read through an HTML parser and CSS selectors, so that a test asserts an element and
//! its text rather than a substring found anywhere in the page (a greeting in the header, a
//! hidden input, a script).
//!
//! Texts are the element's text content with runs of white space made one space and trimmed;
//! character references are decoded by the parser (`&#34;bob&#34;` reads `"bob"`).

use scraper::{ElementRef, Html, Selector};

/// A parsed page (or a fragment such as a table row). Keeps the source, parsed again for each
/// question: cheap for test pages, and the page stays `Send` across awaits.
#[derive(Clone)]
pub struct Page {
    source: String,
    fragment: bool,
}

fn selector(css: &str) -> Selector {
    Selector::parse(css).unwrap_or_else(|e| panic!("bad CSS selector {css:?}: {e}"))
}

/// The text of an element, white space normalised.
pub fn text_of(element: &ElementRef) -> String {
    element
        .text()
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

impl Page {
    /// A whole document.
    pub fn parse(html: &str) -> Page {
        Page {
            source: html.to_string(),
            fragment: false,
        }
    }

    /// A piece of HTML. Table rows must come inside a `<table>`: the parser drops a `<tr>`
    /// found anywhere else.
    pub fn fragment(html: &str) -> Page {
        Page {
            source: html.to_string(),
            fragment: true,
        }
    }

    /// The body of a response, parsed.
    pub async fn of(res: reqwest::Response) -> Page {
        Page::parse(&res.text().await.expect("response body"))
    }

    /// The HTML as served.
    pub fn source(&self) -> &str {
        &self.source
    }

    fn html(&self) -> Html {
        if self.fragment {
            Html::parse_fragment(&self.source)
        } else {
            Html::parse_document(&self.source)
        }
    }

    /// Runs `f` on every element matching `css`, in document order.
    pub fn map<T>(&self, css: &str, f: impl Fn(ElementRef) -> T) -> Vec<T> {
        let html = self.html();
        let sel = selector(css);
        html.select(&sel).map(f).collect()
    }

    /// The main content, for failure messages (the whole source when there is no <main>).
    pub fn main_html(&self) -> String {
        let main = self.map("main", |e| e.html());
        main.into_iter()
            .next()
            .unwrap_or_else(|| self.source.clone())
    }

    /// How many elements match.
    pub fn count(&self, css: &str) -> usize {
        self.map(css, |_| ()).len()
    }

    /// Whether any element matches.
    pub fn exists(&self, css: &str) -> bool {
        self.count(css) > 0
    }

    /// The texts of every element matching `css`.
    pub fn texts(&self, css: &str) -> Vec<String> {
        self.map(css, |e| text_of(&e))
    }

    /// The text of the one element matching `css`; fails when none or several match.
    pub fn select_text(&self, css: &str) -> String {
        let texts = self.texts(css);
        assert!(
            texts.len() == 1,
            "expected exactly one element matching {css:?}, found {}: {texts:?}\n{}",
            texts.len(),
            self.main_html()
        );
        texts.into_iter().next().unwrap()
    }

    /// The attribute `name` of every element matching `css` that has it.
    pub fn attrs(&self, css: &str, name: &str) -> Vec<String> {
        self.map(css, |e| e.attr(name).map(str::to_string))
            .into_iter()
            .flatten()
            .collect()
    }

    /// The attribute `name` of the one element matching `css`.
    pub fn attr(&self, css: &str, name: &str) -> String {
        let found = self.map(css, |e| e.attr(name).map(str::to_string));
        assert!(
            found.len() == 1,
            "expected exactly one element matching {css:?}, found {}\n{}",
            found.len(),
            self.main_html()
        );
        found
            .into_iter()
            .next()
            .unwrap()
            .unwrap_or_else(|| panic!("{css:?} has no attribute {name}"))
    }

    /// The heading of the page (its first <h1>).
    pub fn heading(&self) -> String {
        self.texts("h1")
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("the page has no <h1>\n{}", self.main_html()))
    }

    /// The messages shown at the top of the page (success, error and warning alike).
    pub fn flashes(&self) -> Vec<String> {
        self.texts("main > p.flash")
    }

    /// Asserts that a message at the top of the page contains `text`; returns that message.
    pub fn flash_with(&self, text: &str) -> String {
        let flashes = self.flashes();
        flashes
            .iter()
            .find(|f| f.contains(text))
            .cloned()
            .unwrap_or_else(|| {
                panic!(
                    "no message saying {text:?}; the messages are {flashes:?}\n{}",
                    self.main_html()
                )
            })
    }

    /// The items of the form's error list (`ul.errors` / `p.errors`).
    pub fn errors(&self) -> Vec<String> {
        let mut errors = self.texts("ul.errors li");
        errors.extend(self.texts("p.errors"));
        errors
    }

    /// Asserts that an error of the form contains `text`.
    pub fn error_with(&self, text: &str) -> String {
        let errors = self.errors();
        errors
            .iter()
            .find(|e| e.contains(text))
            .cloned()
            .unwrap_or_else(|| {
                panic!(
                    "no form error saying {text:?}; the errors are {errors:?}\n{}",
                    self.main_html()
                )
            })
    }

    /// The message of an error page (templates/errors/error.html).
    pub fn error_page_message(&self) -> String {
        self.select_text("main section.card > p:first-of-type")
    }

    /// The value of the form field named `name` (an <input>).
    pub fn input_value(&self, name: &str) -> String {
        self.attr(&format!("input[name=\"{name}\"]"), "value")
    }

    /// The value of the selected <option> of the <select> named `name`.
    pub fn selected(&self, name: &str) -> Option<String> {
        self.attrs(
            &format!("select[name=\"{name}\"] option[selected]"),
            "value",
        )
        .into_iter()
        .next()
    }

    /// The hrefs of the links inside the elements matching `css`.
    pub fn links(&self, css: &str) -> Vec<String> {
        self.attrs(&format!("{css} a[href]"), "href")
    }

    /// The texts of the cells of the table row with this id (`calc-7`, `token-3`), without
    /// the checkbox that selects it for a bulk action.
    pub fn row(&self, id: &str) -> Vec<String> {
        let cells = self.texts(&format!("tr[id=\"{id}\"] > td:not(.pick)"));
        assert!(
            !cells.is_empty(),
            "no row #{id} on the page\n{}",
            self.main_html()
        );
        cells
    }

    /// The calculations in a list (`<tr id="calc-N">`), in page order.
    pub fn calc_ids(&self) -> Vec<i64> {
        self.attrs("tr[id^=\"calc-\"]", "id")
            .iter()
            .map(|id| id["calc-".len()..].parse().expect("calc-<number>"))
            .collect()
    }

    /// The section (or other element matching `css`) whose heading (h1, h2 or h3) reads
    /// `heading`, as a page of its own; fails when there is none.
    pub fn section(&self, css: &str, heading: &str) -> Page {
        let h = selector("h1, h2, h3");
        let found: Vec<String> = self
            .map(css, |e| {
                e.select(&h)
                    .next()
                    .filter(|t| text_of(t) == heading)
                    .map(|_| e.html())
            })
            .into_iter()
            .flatten()
            .collect();
        assert!(
            found.len() == 1,
            "expected one {css:?} headed {heading:?}, found {}\n{}",
            found.len(),
            self.main_html()
        );
        Page::fragment(&found[0])
    }

    /// The rows of the bodies of the tables matching `css`, each as its cells' texts.
    pub fn table(&self, css: &str) -> Vec<Vec<String>> {
        let td = selector("td, th");
        self.map(&format!("{css} tbody tr"), |tr| {
            tr.select(&td).map(|c| text_of(&c)).collect()
        })
    }
}

impl std::fmt::Debug for Page {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.main_html())
    }
}

impl std::fmt::Display for Page {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.main_html())
    }
}

#[test]
fn page_questions_are_about_elements_not_substrings() {
    let page = Page::parse(
        r#"<!doctype html><html><head><title>x</title></head><body>
        <header><span class="hello">Hello, <strong>alice</strong></span></header>
        <main id="main">
          <p class="flash flash-success" role="status">User &#34;bob&#34; saved.</p>
          <h1>User   bob</h1>
          <ul class="errors"><li>Too short &amp; common</li></ul>
          <form action="/x/"><input name="username" value="&lt;bob&gt;">
            <select name="level"><option value="0">0</option><option value="1" selected>1</option></select></form>
          <table><tbody><tr id="calc-7"><td>7</td><td>bob</td></tr>
            <tr id="calc-3"><td>3</td><td>carol</td></tr></tbody></table>
          <section class="card"><h2>Users</h2><p class="figure">2</p></section>
          <section class="card"><h2>Other</h2><p class="figure">9</p></section>
        </main></body></html>"#,
    );
    // Texts are decoded and their white space made single.
    assert_eq!(page.heading(), "User bob");
    assert_eq!(page.flashes(), ["User \"bob\" saved."]);
    assert_eq!(page.errors(), ["Too short & common"]);
    assert_eq!(page.input_value("username"), "<bob>");
    assert_eq!(page.selected("level").as_deref(), Some("1"));
    // Alice is greeted in the header, but is in no row of the table.
    assert!(page.source().contains("alice"));
    assert!(page.texts("main table td").iter().all(|t| t != "alice"));
    assert_eq!(page.calc_ids(), [7, 3]);
    assert_eq!(page.row("calc-3"), ["3", "carol"]);
    assert_eq!(page.table("main table"), [["7", "bob"], ["3", "carol"]]);
    assert_eq!(
        page.section("section.card", "Users")
            .select_text("p.figure"),
        "2"
    );
    assert!(!page.exists("main .hello"));
    assert_eq!(page.count("section.card"), 2);
    // A question with several answers where one is expected fails.
    let several = std::panic::catch_unwind(|| page.select_text("p.figure"));
    assert!(several.is_err());
    let none = std::panic::catch_unwind(|| page.flash_with("deleted"));
    assert!(none.is_err());
}
