package message

import (
	"context"
	"reflect"
	"sort"
	"strings"
	"testing"
)

func parseString(t *testing.T, s string) *Message {
	t.Helper()
	m, err := Parse(context.Background(), strings.NewReader(s), Limits{})
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return m
}

func TestHeaderDecoding(t *testing.T) {
	tests := []struct {
		name, raw, value string
	}{
		{"Subject", " =?utf-8?q?caf=C3=A9?=", "café"},
		{"Subject", " =?iso-8859-1?q?caf=E9?=", "café"},
		{"Subject", " =?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4=?=", "Grüße aus Köln"},
		// Blanks between encoded words go; text around them stays.
		{"Subject", " =?UTF-8?B?w6k=?= \t=?UTF-8?B?w6k=?= x", "éé x"},
		{"Subject", " a =?utf-8?q?b?= c", "a b c"},
		// A character split across two words survives.
		{"Subject", " =?utf-8?b?ww==?= =?utf-8?b?qQ==?=", "é"},
		{"Subject", " =?utf-8?q?hello_world?=", "hello world"},
		{"Subject", " =?ISO-2022-JP?B?GyRCJEckOSEjGyhC?=", "です。"},
		// RFC 2231 language suffix.
		{"Subject", " =?US-ASCII*EN?Q?Keith_Moore?=", "Keith Moore"},
		// SpamAssassin decodes words not set off by blanks.
		{"Subject", " foo=?utf-8?q?bar?=baz", "foobarbaz"},
		// An unknown charset falls back to Windows-1252.
		{"Subject", " =?x-unknown?q?caf=E9?=", "café"},
		// Malformed words stay as written.
		{"Subject", " =?utf-8?x?abc?= =?utf-8?q?abc", "=?utf-8?x?abc?= =?utf-8?q?abc"},
		// Fields SpamAssassin leaves encoded.
		{"Message-ID", " <=?utf-8?q?x?=@example.com>", "<=?utf-8?q?x?=@example.com>"},
		{"List-Id", " =?utf-8?q?x?=", "=?utf-8?q?x?="},
		// Folds become one space.
		{"Subject", " hello\n\t  world", "hello world"},
		// 8-bit text: UTF-8 if valid, else Windows-1252.
		{"Subject", " caf\xc3\xa9", "café"},
		{"Subject", " caf\xe9 \x93q\x94", "café “q”"},
	}
	for _, tt := range tests {
		if got := decodeHeaderValue(tt.name, []byte(tt.raw)); got != tt.value {
			t.Errorf("decodeHeaderValue(%q, %q) = %q, want %q", tt.name, tt.raw, got, tt.value)
		}
	}
}

func TestHeaders(t *testing.T) {
	m := parseString(t, "From ignored@example.com Mon Jan  1 00:00:00 2024\n"+
		"Received: from a\n\tby b; Mon, 1 Jan 2024 00:00:00 +0000\n"+
		"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\n"+
		"X-Spaced : value\n"+
		"subject: second\n"+
		"\n"+
		"body\n")
	want := []Header{
		{Name: "Received", Raw: "from a\tby b; Mon, 1 Jan 2024 00:00:00 +0000", Value: "from a by b; Mon, 1 Jan 2024 00:00:00 +0000"},
		{Name: "Subject", Raw: "=?utf-8?q?Gr=C3=BC=C3=9Fe?=", Value: "Grüße"},
		{Name: "X-Spaced", Raw: "value", Value: "value"},
		{Name: "subject", Raw: "second", Value: "second"},
	}
	if !reflect.DeepEqual(m.Headers, want) {
		t.Errorf("Headers =\n%+v\nwant\n%+v", m.Headers, want)
	}
	if got := m.First("SUBJECT"); got != "Grüße" {
		t.Errorf("First(SUBJECT) = %q", got)
	}
	if got := len(m.Get("subject")); got != 2 {
		t.Errorf("Get(subject) has %d fields, want 2", got)
	}
	if !strings.HasPrefix(m.RawHeader, "Received:") || !strings.HasSuffix(m.RawHeader, "second\n\n") {
		t.Errorf("RawHeader = %q, want the header without the mbox line, ending with the blank line", m.RawHeader)
	}
	if m.RawBody != "body\n" || m.Text != "body\n" {
		t.Errorf("RawBody = %q, Text = %q", m.RawBody, m.Text)
	}
	if len(m.Anomalies) != 0 {
		t.Errorf("Anomalies = %v", m.Anomalies)
	}
}

func TestHeaderAnomalies(t *testing.T) {
	tests := []struct {
		msg       string
		anomalies []string
		body      string
	}{
		// No blank line: the header ends at the first "--" line.
		{"Subject: x\n--boundary\nbody\n", []string{"missing_head_body_separator"}, "--boundary\nbody\n"},
		// Up to three lines that are not fields are skipped.
		{"Subject: x\nnot a field\nX-A: b\n\nbody\n", nil, "body\n"},
		{"Subject: x\nbad1\nbad2\nbad3\nbad4\nbody\n", []string{"missing_head_body_separator"}, "bad4\nbody\n"},
		// Header without body.
		{"Subject: x\n", []string{"missing_head_body_separator"}, ""},
	}
	for _, tt := range tests {
		m := parseString(t, tt.msg)
		if !reflect.DeepEqual(m.Anomalies, tt.anomalies) {
			t.Errorf("%q: Anomalies = %v, want %v", tt.msg, m.Anomalies, tt.anomalies)
		}
		if m.Text != tt.body {
			t.Errorf("%q: Text = %q, want %q", tt.msg, m.Text, tt.body)
		}
		if m.RawHeader+m.RawBody != tt.msg {
			t.Errorf("%q: RawHeader %q + RawBody %q is not the input", tt.msg, m.RawHeader, m.RawBody)
		}
	}
}

func TestTransferDecoding(t *testing.T) {
	tests := []struct {
		name, cte, ct, body, text string
	}{
		{"qp", "quoted-printable", "text/plain; charset=utf-8",
			"caf=C3=A9 =c3=a9\nsoft=\nbreak and=  \nblanks\ntrailing   \n=3D=ZZ=\n", "café é\nsoftbreak andblanks\ntrailing\n==ZZ"},
		{"qp crlf", "quoted-printable", "text/plain", "a=0D=0Ab\n", "a\nb\n"},
		{"base64", "base64", "text/plain; charset=utf-8", "Y2Fmw6k=\n", "café"},
		// Stray characters are skipped; "=" ends a group and decoding goes on.
		{"base64 lenient", "base64", "text/plain", "aGVs!!bG8=\nd29y\nbGQ=\n", "helloworld"},
		{"base64 truncated", "base64", "text/plain", "aGVsbG", "hell"},
		{"base64 crlf", "BASE64", "text/plain", "YQ0KYg0K\n", "a\nb\n"},
		{"8bit latin1", "8bit", "text/plain; charset=iso-8859-1", "caf\xe9\n", "café\n"},
		{"undeclared 8bit", "", "text/plain", "\x93quoted\x94\n", "“quoted”\n"},
		{"valid utf-8 mislabelled", "", "text/plain; charset=iso-8859-1", "caf\xc3\xa9\n", "café\n"},
		{"iso-2022-jp", "7bit", "text/plain; charset=ISO-2022-JP", "\x1b$B$G$9!#\x1b(B\n", "です。\n"},
		{"unknown charset", "", "text/plain; charset=x-bogus", "caf\xe9\n", "café\n"},
	}
	for _, tt := range tests {
		msg := "Content-Type: " + tt.ct + "\nContent-Transfer-Encoding: " + tt.cte + "\n\n" + tt.body
		m := parseString(t, msg)
		if m.Text != tt.text {
			t.Errorf("%s: Text = %q, want %q", tt.name, m.Text, tt.text)
		}
	}
}

const nestedMessage = `From: a@example.com
Subject: nested
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

preamble is ignored
--outer
Content-Type: multipart/alternative; boundary=inner

--inner
Content-Type: text/plain; charset=us-ascii

plain text
--inner
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: quoted-printable

<p>html =E2=82=AC <a href=3D"http://Link.Example/a">link</a></p>
--inner--

--outer
Content-Type: application/pdf; name="ignored.pdf"
Content-Disposition: attachment; filename*=utf-8''r%C3%A9sum%C3%A9.pdf
Content-Transfer-Encoding: base64

JVBERi0xLjQK
--outer
Content-Type: message/rfc822

Subject: attached
Content-Type: text/plain

attached text
--outer
Content-Type: image/gif; name="=?utf-8?q?pixel.gif?="
Content-Transfer-Encoding: base64

R0lGODlhAQABAAAAACw=
--outer--
epilogue text
`

func TestNestedMultipart(t *testing.T) {
	m := parseString(t, nestedMessage)
	type pt struct {
		Path, ContentType, Parent, Filename string
		Size                                int64
		IsAttachment                        bool
		Text                                string
	}
	var got []pt
	for _, p := range m.Parts {
		got = append(got, pt{p.Path, p.ContentType, p.Parent, p.Filename, p.Size, p.IsAttachment, p.Text})
	}
	want := []pt{
		{"1.1", "text/plain", "multipart/alternative", "", 10, false, "plain text"},
		{"1.2", "text/html", "multipart/alternative", "", 56, false, "\n\nhtml € link\n\n"},
		{"2", "application/pdf", "multipart/mixed", "résumé.pdf", 9, true, ""},
		{"3", "message/rfc822", "multipart/mixed", "", 57, false, ""},
		{"3.1", "text/plain", "", "", 13, false, "attached text"},
		{"4", "image/gif", "multipart/mixed", "pixel.gif", 14, true, ""},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Parts =\n%+v\nwant\n%+v", got, want)
	}
	if len(m.Attachments) != 2 || m.Attachments[0].Filename != "résumé.pdf" {
		t.Errorf("Attachments = %+v", m.Attachments)
	}
	wantText := "plain text\n\n\nhtml € link\n\n\n\nattached text\n"
	if m.Text != wantText {
		t.Errorf("Text = %q, want %q", m.Text, wantText)
	}
	if len(m.HTML) != 1 || !strings.Contains(m.HTML[0], "€") {
		t.Errorf("HTML = %q", m.HTML)
	}
	if !reflect.DeepEqual(m.URIs, []string{"http://link.example/a"}) {
		t.Errorf("URIs = %q", m.URIs)
	}
	if !reflect.DeepEqual(m.Anomalies, []string{"mime_epilogue_exists"}) {
		t.Errorf("Anomalies = %v", m.Anomalies)
	}
	wantBody := []string{"nested\n", "plain text\n", "html € link\n", "attached text "}
	if got := m.BodyLines(); !reflect.DeepEqual(got, wantBody) {
		t.Errorf("BodyLines = %q, want %q", got, wantBody)
	}
	if got := m.RawBodyLines(); len(got) != 3 || !strings.Contains(got[1], `<a href="http://Link.Example/a">`) {
		t.Errorf("RawBodyLines = %q", got)
	}
}

func TestMalformedMIME(t *testing.T) {
	tests := []struct {
		name, msg, text string
		types           []string
		anomalies       []string
	}{
		{
			name:  "boundary never used",
			msg:   "Content-Type: multipart/alternative; boundary=\"nope\"\n\nThis is MIME.\n\n--other\nContent-Type: text/plain\n\nhidden\n",
			text:  "This is MIME.\n\n--other\nContent-Type: text/plain\n\nhidden\n",
			types: []string{"text/plain"},
		},
		{
			name:  "multipart without boundary is text",
			msg:   "Content-Type: multipart/mixed\n\nplain\n",
			text:  "plain\n",
			types: []string{"text/plain"},
		},
		{
			name:      "part without header",
			msg:       "Content-Type: multipart/mixed; boundary=b\n\n--b\nno header here\n--b--\n",
			text:      "no header here",
			types:     []string{"text/plain"},
			anomalies: []string{"missing_mime_headers", "missing_mime_head_body_separator"},
		},
		{
			name:  "unquoted boundary with specials and no closing delimiter",
			msg:   "Content-Type: multipart/mixed; boundary=----=_NextPart_000\n\n------=_NextPart_000\nContent-Type: text/html\n\n<b>bold</b>\n",
			text:  "bold ",
			types: []string{"text/html"},
		},
		{
			name:  "bad content type",
			msg:   "Content-Type: text\n\nx\n",
			text:  "x\n",
			types: []string{"text/plain"},
		},
		{
			name:      "digest defaults to message/rfc822",
			msg:       "Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: one\n\nfirst\n--d--\n",
			text:      "first",
			types:     []string{"message/rfc822", "text/plain"},
			anomalies: []string{"missing_mime_headers"},
		},
		{
			name:  "html file attachment is rendered",
			msg:   "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: application/octet-stream; name=page.html\n\n<p>x</p>\n--b--\n",
			text:  "\n\nx\n\n",
			types: []string{"application/octet-stream"},
		},
	}
	for _, tt := range tests {
		m := parseString(t, tt.msg)
		if m.Text != tt.text {
			t.Errorf("%s: Text = %q, want %q", tt.name, m.Text, tt.text)
		}
		var types []string
		for _, p := range m.Parts {
			types = append(types, p.ContentType)
		}
		if !reflect.DeepEqual(types, tt.types) {
			t.Errorf("%s: part types = %v, want %v", tt.name, types, tt.types)
		}
		if !reflect.DeepEqual(m.Anomalies, tt.anomalies) {
			t.Errorf("%s: Anomalies = %v, want %v", tt.name, m.Anomalies, tt.anomalies)
		}
	}
}

// TestHTMLRendering compares rendering and HTML facts with what
// SpamAssassin 4.0's renderer (Mail::SpamAssassin::HTML) gives for the
// same input.
func TestHTMLRendering(t *testing.T) {
	tests := []struct {
		html   string
		text   string
		values map[string]float64 // by SpamAssassin name; absent ones must be undefined
		titles []string
		uris   []string // sorted, as SpamAssassin's uri_detail keys
	}{
		{
			html:   `<html><head><title>T</title><style>p{color:red}</style><script>var x=1;</script></head><body><p>Hello&nbsp;&amp; world</p><div>line<br>two</div></body></html>`,
			text:   "\n\nT\n\n\n\nHello & world\n\n\nline\ntwo\n",
			values: map[string]float64{"image_area": 0, "length": 158, "closed_extra_ratio": 0, "bad_tag_ratio": 0, "non_element_ratio": 0},
			titles: []string{"T"},
		},
		{
			html:   `<p>a&#149;b &lt;tag&gt; &copy caf&eacute;</p>`,
			text:   "\n\na\u0095b <tag> © café\n\n",
			values: map[string]float64{"image_area": 0, "length": 45, "closed_extra_ratio": 0, "bad_tag_ratio": 0, "non_element_ratio": 0},
		},
		{
			html:   `<ul><li>one</li><li>two</li></ul><table><tr><td>c1</td><td>c2</td></tr></table>`,
			text:   " one  two  c1  c2 ",
			values: map[string]float64{"image_area": 0, "length": 79, "closed_extra_ratio": 0, "bad_tag_ratio": 0, "non_element_ratio": 0},
		},
		{
			html:   `<font color="#ffffff">hidden</font><font color=red size=+2>big</font>`,
			text:   "hiddenbig",
			values: map[string]float64{"image_area": 0, "length": 69, "max_size": 5, "font_low_contrast": 1, "obfuscation_ratio": 0.25, "backhair_count": 1, "closed_extra_ratio": 0, "bad_tag_ratio": 0, "non_element_ratio": 0},
		},
		{
			html:   `<body bgcolor=white><span style="color: #fefefe; background-color: #ffffff">low</span><span style="display:none">none</span>x</body>`,
			text:   "lownonex",
			values: map[string]float64{"image_area": 0, "length": 132, "font_low_contrast": 1, "obfuscation_ratio": 1.0 / 3, "backhair_count": 2, "closed_extra_ratio": 0, "bad_tag_ratio": 0, "non_element_ratio": 0},
		},
		{
			html:   `<b>V</b>iagra <i>Ch</i>eap`,
			text:   "Viagra Cheap",
			values: map[string]float64{"image_area": 0, "length": 26, "obfuscation_ratio": 0.5, "backhair_count": 2, "closed_extra_ratio": 0, "bad_tag_ratio": 0, "non_element_ratio": 0},
		},
		{
			html:   `<a href="http://A.Example/x">click <img src="i.gif" width=10 height=20></a><img src="j.gif" width="50%" height="50%">`,
			text:   "click ",
			values: map[string]float64{"length": 117, "image_area": 120200, "closed_extra_ratio": 0, "bad_tag_ratio": 0, "non_element_ratio": 0},
			uris:   []string{"http://A.Example/x", "i.gif", "j.gif"},
		},
		{
			html:   `<base href="http://base.example/dir/index.html"><a href="page.html">p</a><a href="/abs">a</a><form action="mailto:x@y.example"></form><object></object>`,
			text:   "pa",
			values: map[string]float64{"image_area": 0, "length": 151, "embeds": 1, "form_action_mailto": 1, "obfuscation_ratio": 1.0 / 9, "backhair_count": 1, "closed_extra_ratio": 0, "bad_tag_ratio": 0, "non_element_ratio": 0},
			uris:   []string{"/abs", "http://base.example/abs", "http://base.example/dir/index.html", "http://base.example/dir/page.html", "mailto:x@y.example", "page.html"},
		},
		{
			html:   `<!DOCTYPE html><x-foo>unknown</x-foo></b></b><o:p>office</o:p><font face="Arial, Helvetica">f</font><font face="$$$">g</font>`,
			text:   "unknownofficefg",
			values: map[string]float64{"image_area": 0, "length": 125, "bad_tag_ratio": 2.0 / 11, "closed_extra_ratio": 2.0 / 11, "non_element_ratio": 0.25, "obfuscation_ratio": 3.0 / 11, "backhair_count": 3, "font_face_bad": 1},
		},
		{
			html:   `<p>unclosed <style>body{}`,
			text:   "\n\nunclosed ",
			values: map[string]float64{"image_area": 0, "length": 25, "closed_extra_ratio": 0, "bad_tag_ratio": 0, "non_element_ratio": 0},
		},
		{
			html:   `<title>Title text</title><meta http-equiv="refresh" content="0; URL=http://refresh.example/go"><meta http-equiv="Content-Type" content="text/html; charset=koi8-r">`,
			text:   "\n\nTitle text\n\n",
			values: map[string]float64{"image_area": 0, "length": 163, "closed_extra_ratio": 0, "bad_tag_ratio": 0, "non_element_ratio": 0},
			titles: []string{"Title text"},
			uris:   []string{"http://refresh.example/go"},
		},
	}
	names := []string{"length", "image_area", "closed_extra_ratio", "bad_tag_ratio", "non_element_ratio", "obfuscation_ratio",
		"backhair_count", "font_low_contrast", "font_invalid_color", "font_face_bad", "embeds", "form_action_mailto"}
	for _, tt := range tests {
		r := renderHTML(nil, tt.html, len(tt.html))
		if r.text != tt.text {
			t.Errorf("%s:\ntext %q\nwant %q", tt.html, r.text, tt.text)
		}
		for _, name := range names {
			v, ok := r.stats.Value(name)
			want, wantOK := tt.values[name]
			if ok != wantOK || (ok && (v-want > 1e-9 || want-v > 1e-9)) {
				t.Errorf("%s: %s = %v (defined %v), want %v (defined %v)", tt.html, name, v, ok, want, wantOK)
			}
		}
		if min, max := tt.values["min_size"], tt.values["max_size"]; min != 0 || max != 0 {
			if r.stats.MaxFontSize != int(max) {
				t.Errorf("%s: MaxFontSize = %d, want %v", tt.html, r.stats.MaxFontSize, max)
			}
		}
		if !reflect.DeepEqual(r.stats.Titles, tt.titles) {
			t.Errorf("%s: Titles = %q, want %q", tt.html, r.stats.Titles, tt.titles)
		}
		uris := append([]string(nil), r.uris...)
		sort.Strings(uris)
		if !reflect.DeepEqual(uris, tt.uris) {
			t.Errorf("%s: URIs = %q, want %q", tt.html, uris, tt.uris)
		}
	}
}

func TestHTMLStatsFacts(t *testing.T) {
	r := renderHTML(nil, `<html><body><a href=" http://x.example/ ">one</a><a>two <img src=a.gif></a>`+
		`<iframe src="http://frame.example/"></iframe><!-- note --><script>s()</script>`+
		`<span style="color: foo">bad</span></body></html>`, 100)
	st := r.stats
	wantAnchors := []Anchor{{Href: "http://x.example/", Text: "one"}, {Href: "", Text: "two <img>\n"}}
	if !reflect.DeepEqual(st.Anchors, wantAnchors) {
		t.Errorf("Anchors = %+v, want %+v", st.Anchors, wantAnchors)
	}
	if !st.IFrameSrc || !st.FontInvalidColor || st.FontLowContrast {
		t.Errorf("IFrameSrc %v FontInvalidColor %v FontLowContrast %v", st.IFrameSrc, st.FontInvalidColor, st.FontLowContrast)
	}
	if !reflect.DeepEqual(st.Comments, []string{"<!-- note -->"}) || !reflect.DeepEqual(st.Scripts, []string{"s()"}) {
		t.Errorf("Comments %q Scripts %q", st.Comments, st.Scripts)
	}
	if st.Inside["a"] != 0 || st.Inside["html"] != 0 || st.Inside["body"] != 0 {
		t.Errorf("Inside = %v", st.Inside)
	}
	if _, ok := st.Inside["img"]; !ok {
		t.Errorf("Inside has no img: %v", st.Inside)
	}
	if v, ok := st.Value("ratio"); !ok || v <= 0 {
		t.Errorf("ratio = %v, %v", v, ok)
	}
	if _, ok := st.Value("no_such_test"); ok {
		t.Errorf("unknown name is defined")
	}
}

func TestNameToRGB(t *testing.T) {
	tests := map[string]string{
		"white": "#ffffff", " Red ": "#ff0000", "#FFF": "#ffffff", "#abcd": "#aabbcc", "#1234567": "#123456",
		"#12": "#112200", "rgb(255, 0, 10)": "#ff000a", "rgb(100%, 0%, 50%)": "#ff007f", "fff": "invalid",
		"bogus": "invalid", "#zz": "invalid", "": "#",
	}
	for in, want := range tests {
		if got := nameToRGB(in); got != want {
			t.Errorf("nameToRGB(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestURIs(t *testing.T) {
	m := parseString(t, "Subject: see www.subject.example/x\n"+
		"Content-Type: multipart/alternative; boundary=b\n\n"+
		"--b\nContent-Type: text/plain\n\n"+
		"Go to http://Example.COM/Path?x=1. or (https://paren.example/a_(b)) and www.foo.org/bar, "+
		"ftp.files.example/pub; mail Bob@Example.org or mailto:sales@Shop.Example?subject=hi\n"+
		"not a url: www.x or http:// or user@host\n"+
		"--b\nContent-Type: text/html\n\n"+
		`<a href="HTTP://Link.Example/">x</a><img src="//cdn.example/i.png"><form action="/relative"></form>`+
		`<a href="http://user@Mixed.Example:8080/P">y</a> http://in-text.example/`+"\n"+
		"--b--\n")
	want := []string{
		"http://www.subject.example/x",
		"http://example.com/Path?x=1",
		"https://paren.example/a_(b)",
		"http://www.foo.org/bar",
		"ftp://ftp.files.example/pub",
		"mailto:Bob@example.org",
		"mailto:sales@shop.example?subject=hi",
		"http://link.example/",
		"http://cdn.example/i.png",
		"http://user@mixed.example:8080/P",
		"http://in-text.example/",
	}
	if !reflect.DeepEqual(m.URIs, want) {
		t.Errorf("URIs =\n%q\nwant\n%q", m.URIs, want)
	}
}

func TestResolveRef(t *testing.T) {
	base := "http://a.example/b/c/d;p?q"
	tests := map[string]string{
		"g":       "http://a.example/b/c/g",
		"./g":     "http://a.example/b/c/g",
		"g/":      "http://a.example/b/c/g/",
		"/g":      "http://a.example/g",
		"//g":     "http://g",
		"?y":      "http://a.example/b/c/d;p?y",
		"g?y":     "http://a.example/b/c/g?y",
		"#s":      "http://a.example/b/c/d;p?q#s",
		"../g":    "http://a.example/b/g",
		"../../g": "http://a.example/g",
		"http:g":  "http://a.example/b/c/g",
		"https:x": "https:x",
	}
	for ref, want := range tests {
		if got := resolveRef(base, ref); got != want {
			t.Errorf("resolveRef(%q) = %q, want %q", ref, got, want)
		}
	}
}

func TestBodyLines(t *testing.T) {
	long := strings.Repeat("word ", 500) // 2500 bytes
	m := parseString(t, "Subject: subj\n\npara one\nstill one\n\n\n  para two\t\tx\n\n"+long+"\n")
	got := m.BodyLines()
	if got[0] != "subj\n" || got[1] != "para one still one\n" || got[2] != " para two x\n" {
		t.Errorf("BodyLines starts %q", got[:3])
	}
	for _, l := range got {
		if len(l) > maxBodyLineLength {
			t.Errorf("line of %d bytes", len(l))
		}
	}
	if strings.Join(got[2:], "") != " para two x\n"+long {
		t.Errorf("BodyLines lost text: %q", strings.Join(got[2:], ""))
	}
	// Without a Subject the first line is empty.
	if got := parseString(t, "From: x\n\nbody\n").BodyLines(); !reflect.DeepEqual(got, []string{"\n", "body "}) {
		t.Errorf("BodyLines = %q", got)
	}
}

func TestLongPartTextIsCut(t *testing.T) {
	text := strings.Repeat("abcdefghi ", BodyPartScanSize/10+500)
	m := parseString(t, "Subject: s\n\n"+text)
	body := strings.Join(m.BodyLines()[1:], "")
	if len(body) < BodyPartScanSize || len(body) > BodyPartScanSize+1024 {
		t.Errorf("body of %d bytes, want about %d", len(body), BodyPartScanSize)
	}
	if !strings.HasSuffix(body, " ") {
		t.Errorf("body not cut at a space: %q", body[len(body)-20:])
	}
}

// TestURIList compares URIList with SpamAssassin 4.0's get_uri_list for
// the same message (run with its stock TLD list).
func TestURIList(t *testing.T) {
	msg := "Subject: links www.subject.example.com here\n" +
		"Content-Type: multipart/alternative; boundary=b\n\n" +
		"--b\nContent-Type: text/plain\n\n" +
		"Visit www.example.com/page, or http://Example.org:80/x?y=1. Mail bob@example.net\n" +
		"or mailto:sales%40shop.example.org?subject=hi (nothing at junk@nowhere).\n" +
		"Bare: foo.example.com and file.txt and http:/broken.example.com/a and 3232235777\n" +
		"see http://0x7f.0.0.01/ and http://redirect.example.com/r?u=http://target.example.net/x&z=1\n" +
		"--b\nContent-Type: text/html\n\n" +
		`<a href="HTTP://User:pw@Mixed.Example.COM:8080/P#frag">x</a><a href="#top">t</a><a>no href</a>` + "\n" +
		`<img src="//cdn.example.net/i.png"><a href="http://1113343453/">ip</a><a href="http://intranet/">i</a>` + "\n" +
		`<a href="http://%77%77%77.example.com/%7Euser">esc</a>` + "\n" +
		"--b--\n"
	want := []string{
		"",
		"#top",
		"//cdn.example.net/i.png",
		"HTTP://User:pw@Mixed.Example.COM:8080/P#frag",
		"http://%77%77%77.example.com/%7Euser",
		"http:////cdn.example.net/i.png",
		"http://1113343453/",
		"http://66.92.69.221/",
		"http://Example.org/x?y=1",
		"http://Example.org:80/x?y=1",
		"http://broken.example.com/a",
		"http://foo.example.com",
		"http://intranet/",
		"http://redirect.example.com/r?u=http://target.example.net/x&z=1",
		"http://target.example.net/x",
		"http://www.example.com/page",
		"http://www.example.com/~user",
		"http://www.intranet.com/",
		"http://www.subject.example.com",
		"mailto:bob@example.net",
	}
	tlds := map[string]bool{"com": true, "net": true, "org": true}
	got := parseString(t, msg).URIList(func(tld string) bool { return tlds[tld] })
	sort.Strings(got)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("URIList =\n%q\nwant\n%q", got, want)
	}
	// Without a TLD list, bare host names are not found.
	got = parseString(t, msg).URIList(nil)
	for _, u := range got {
		if u == "http://foo.example.com" {
			t.Errorf("bare host found without a TLD list")
		}
	}
}

// TestCanonicalize compares with SpamAssassin 4.0's uri_list_canonicalize.
func TestCanonicalize(t *testing.T) {
	l := uriLister{validTLD: func(tld string) bool { return tld == "com" }}
	tests := map[string][]string{
		"http://www.example.com?q=1":    {"http://www.example.com?q=1", "http://www.example.com/?q=1"},
		`http:\\evil.example.com\a`:     {`http:\\evil.example.com\a`, "http://evil.example.com/a"},
		"http://user@host.example.com/": {"http://user@host.example.com/"},
		"http://host.example.com!!/x":   {"http://host.example.com!!/x", "http://host.example.com/x"},
		"http://0x7f000001/":            {"http://0x7f000001/", "http://127.0.0.1/"},
		// "&#101;" is not decoded: the "#" was taken for a fragment first.
		"http://www.&#101;xample.com/":         {"http://www.&#101;xample.com/", "http://www.&.com/#101;xample.com/", "http://www.&/#101;xample.com/", "http://www/#101;xample.com/"},
		"https://secure.example.com:443/login": {"https://secure.example.com:443/login", "https://secure.example.com/login"},
		"mailto:a@b.example.com?subject=x":     {"mailto:a@b.example.com?subject=x", "mailto:a@b.example.com"},
		"foo":                                  {"foo", "http://foo", "http://www.foo.com"},
	}
	for in, want := range tests {
		got := l.canonicalize(in)
		sort.Strings(got)
		sort.Strings(want)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("canonicalize(%q) = %q, want %q", in, got, want)
		}
	}
}
