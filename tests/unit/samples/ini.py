"""A model of oslo.config INI text, as hypothesis strategies: comments, blank lines, headers,
assignments with continuation lines, CRLF or LF, with or without a final newline. A test given
a document built from the model knows, independently of the editor, which lines hold managed
keys and what oslo.config reads from every assignment.
"""

from hypothesis import strategies as st

MANAGED = ("host_ip", "cluster_name", "host_password")
# Section names oslo.config folds into the vmware group, and ones it keeps apart.
SECTIONS = ["DEFAULT", "default", "vmware", "VMware", "VMWARE", " vmware ", "libvirt", "vmware_x"]
KEYS = list(MANAGED) + ["Host_IP", "host_ip_x", "compute_driver", "transport_url", "my_ip"]

one_line = st.text(st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)), max_size=12)
eols = st.sampled_from(["\n", "\r\n"])


def group(section):
    return section if section == "DEFAULT" else section.lower()


def oslo_value(first, continuations):
    """What oslo.config's parser makes of an assignment (the rule under test, stated once)."""
    value = first.strip()
    if value and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
    return "\n".join([value] + [line.strip() for line in continuations])


comment = st.builds(lambda mark, body: mark + body, st.sampled_from("#;"), one_line)
blank = st.sampled_from(["", " ", "\t", "  \t "])
continuation = st.builds(lambda indent, body: indent + body, st.sampled_from([" ", "\t", "    "]),
                         one_line.filter(str.strip))
assignment = st.builds(
    lambda key, before, sep, after, value, more: ("assign", key, key + before + sep + after + value, more,
                                                  oslo_value(value, more)),
    st.sampled_from(KEYS), st.sampled_from(["", " ", "\t"]), st.sampled_from("=:"), st.sampled_from(["", " "]),
    one_line, st.lists(continuation, max_size=2))
other = st.one_of(comment.map(lambda line: ("other", line)), blank.map(lambda line: ("other", line)))
body = st.lists(st.one_of(assignment, other), max_size=6)
block = st.tuples(st.sampled_from(SECTIONS), st.sampled_from(["", " ", "\t"]), body)


@st.composite
def documents(draw):
    """(text, elements): elements are (kind, group, key, lines, value) in file order."""
    elements = [("other", None, None, [item[1]], None) for item in draw(st.lists(other, max_size=2))]
    for section, trailing, items in draw(st.lists(block, max_size=4)):
        elements.append(("header", group(section), None, ["[%s]%s" % (section, trailing)], None))
        for item in items:
            if item[0] == "assign":
                key, first, more, value = item[1:]
                elements.append(("assign", group(section), key, [first] + more, value))
            else:
                elements.append(("other", group(section), None, [item[1]], None))
    lines = [line for element in elements for line in element[3]]
    endings = draw(st.lists(eols, min_size=len(lines), max_size=len(lines)))
    if lines and draw(st.booleans()):
        endings[-1] = ""
    text_lines = [line + ending for line, ending in zip(lines, endings)]
    rendered, position = [], 0
    for element in elements:
        count = len(element[3])
        rendered.append(element[:3] + ("".join(text_lines[position:position + count]), element[4]))
        position += count
    return "".join(text_lines), rendered
