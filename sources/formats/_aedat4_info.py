"""The DV info node of an AEDAT 4 header: the XML that names the file's streams.

dv-runtime's Recorder lists each input under `/mainloop/Recorder/outInfo/<id>/` with its
`originalOutputName`, `typeIdentifier` (EVTS, FRME, IMUS, TRIG, ...), `compression` and an
`info` child node (sizeX/sizeY, source, tsOffset).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

InfoError = ET.ParseError


def parse_streams(info: str) -> list[dict]:
    """The outInfo streams of a DV info node: id, name, type, and the info attributes."""
    root = ET.fromstring(info)
    out = []
    for node in root.iter("node"):
        if not node.get("path", "").rstrip("/").split("/")[-2:-1] == ["outInfo"]:
            continue
        try:
            stream_id = int(node.get("name", ""))
        except ValueError:
            continue
        attrs = {a.get("key"): a.text for a in node.findall("attr")}
        stream = {
            "id": stream_id,
            "name": attrs.get("originalOutputName") or str(stream_id),
            "type": attrs.get("typeIdentifier"),
            "compression": attrs.get("compression"),
        }
        for sub in node.findall("node"):
            if sub.get("name") == "info":
                for a in sub.findall("attr"):
                    stream[a.get("key")] = a.text
        out.append(stream)
    return out


def info_xml(streams: list[tuple[int, str, int, int, str]], compression: str) -> str:
    """A DV info node listing event streams: (id, name, width, height, source)."""
    parts = ['<dv version="2.0">', '    <node name="outInfo" path="/mainloop/Recorder/outInfo/">']
    for stream_id, name, width, height, source in streams:
        base = f"/mainloop/Recorder/outInfo/{stream_id}/"
        parts += [
            f'        <node name="{stream_id}" path="{base}">',
            f'            <attr key="compression" type="string">{compression}</attr>',
            '            <attr key="originalModuleName" type="string">spikestream</attr>',
            f'            <attr key="originalOutputName" type="string">{name}</attr>',
            '            <attr key="typeDescription" type="string">Array of events (polarity ON/OFF).</attr>',
            '            <attr key="typeIdentifier" type="string">EVTS</attr>',
            f'            <node name="info" path="{base}info/">',
            f'                <attr key="sizeX" type="int">{width}</attr>',
            f'                <attr key="sizeY" type="int">{height}</attr>',
            f'                <attr key="source" type="string">{source}</attr>',
            '                <attr key="tsOffset" type="long">0</attr>',
            "            </node>",
            "        </node>",
        ]
    parts += ["    </node>", "</dv>", ""]
    return "\n".join(parts)
