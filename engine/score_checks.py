"""Score checks: configurations Plexus would refuse to build, or would run other than meant.

Each finding is a warning: the file is still valid YAML and is still written. Every
rule is read from Plexus itself (AnthusAI/Plexus, release 1.50); the file it comes from
is named beside the check. Each rule has an entry in ``RULES`` whose sentence also
stands in the score format reference (``data/docs/score-yaml-format.md``), which a test
pins, so what the assistant is taught and what the checks say cannot drift apart.

The input is the plain document from ``engine.yaml_text.load_plain``: mappings, lists,
strings, and ints for plain integer scalars.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

END_NODE = "END"


@dataclass(frozen=True)
class NodeClass:
    """One node class of Plexus's ``plexus/scores/nodes/`` and what it requires."""

    required: tuple[str, ...] = ()
    """Parameters the node's ``Parameters`` model requires (or cannot work without)."""
    legacy: bool = False
    """Plexus says not to use it any more (use ``Classifier`` with ``valid_classes``)."""


#: plexus/scores/nodes/*.py: each class and the parameters its Parameters model needs.
NODE_CLASSES: dict[str, NodeClass] = {
    "Classifier": NodeClass(("valid_classes",)),  # Classifier.py: valid_classes: List[str]
    "Extractor": NodeClass(),  # Extractor.py: trust_model_output for free-form output
    "BeforeAfterSlicer": NodeClass(),  # BeforeAfterSlicer.py: outputs `before` and `after`
    # LogicalClassifier.py: code (a `score(parameters, input)` function)
    "LogicalClassifier": NodeClass(("code",)),
    # LogicalNode.py: code, function_name (default `execute`)
    "LogicalNode": NodeClass(("code",)),
    # FuzzyMatchClassifier.py: data_paths: List[str], targets (a target or a group)
    "FuzzyMatchClassifier": NodeClass(("data_paths", "targets")),
    "FuzzyMatchExtractor": NodeClass(("targets",)),  # FuzzyMatchExtractor.py: targets
    # ContextExtractor.py / AgenticExtractor.py: system_message and user_message: str
    "ContextExtractor": NodeClass(("system_message", "user_message")),
    "AgenticExtractor": NodeClass(("system_message", "user_message")),
    "Generator": NodeClass(),  # Generator.py
    "NumericClassifier": NodeClass(("numeric_min", "numeric_max")),  # NumericClassifier.py
    # documentation/agent/score-authoring/score-yaml-format.md: "Legacy Node Types (DO NOT USE)"
    "YesOrNoClassifier": NodeClass(legacy=True),
    "MultiClassClassifier": NodeClass(("valid_classes",), legacy=True),
}

#: plexus/LangChainUser.py: model_provider: Literal[...] (ChatAnthropic fails validation).
MODEL_PROVIDERS = ("ChatOpenAI", "AzureChatOpenAI", "BedrockChat", "ChatVertexAI", "ChatOllama")

#: plexus/scores/LangGraphScore.py: GraphState's fields. LangGraph refuses a graph in
#: which a node has the name of a state field ("is already being used as a state key").
STATE_FIELDS = frozenset(
    {
        "text", "metadata", "results", "messages", "is_not_empty", "value", "explanation",
        "reasoning", "chat_history", "completion", "classification", "confidence",
        "retry_count", "at_llm_breakpoint", "good_call", "good_call_explanation",
        "non_qualifying_reason", "non_qualifying_explanation",
    }
)  # fmt: skip

#: What nodes write into the state, and so what an ``output`` mapping reads from
#: (plexus/scores/nodes/*.py: classification, explanation, extracted_text, before, after...).
NODE_RESULT_FIELDS = frozenset(
    {"classification", "explanation", "extracted_text", "before", "after", "completion",
     "confidence", "value", "match_found", "matches", "quote", "reasoning"}
)  # fmt: skip

#: plexus/cli/procedure/tactus_adapters/score_editor_toolset.py: a Classifier whose
#: valid_classes are only these, with an extraction prompt, is a pseudo-extractor.
EXTRACTION_LIKE_CLASSES = frozenset(
    {"extract", "extracted", "found", "quoted", "quote", "located", "captured", "identified"}
)
EXTRACTION_PROMPT_HINTS = (
    "extract", "evidence summary", "exact evidence", "exact visible evidence",
    "verbatim evidence", "quote", "ledger", "list every", "list each",
)  # fmt: skip

#: plexus/data/FeedbackItems.py: FeedbackItems.Parameters (and DataCache's `class`). Other
#: keys are ignored by Plexus (pydantic drops them), so the reference lists these.
FEEDBACK_ITEMS_FIELDS = frozenset(
    {"class", "scorecard", "score", "days", "feedback_start_at", "feedback_end_at",
     "max_items", "sampling_mode", "sample_seed", "limit", "limit_per_cell", "initial_value",
     "final_value", "feedback_id", "backfill_cells", "identifier_extractor", "column_mappings",
     "item_config", "cache_file", "local_cache_directory"}
)  # fmt: skip

#: plexus/Scorecard.py: the operators a `depends_on` condition may use.
DEPENDS_ON_OPERATORS = ("==", "!=", "in", "not in")

#: plexus/linting/schemas.py: SCORE_YAML_SCHEMA key pattern.
KEY_PATTERN = re.compile(r"^[a-z0-9_-]+$")

#: Each check's id and the words that teach it in the score format reference, which
#: must contain them (ignoring line breaks; a test pins this): a rule the checks enforce is a rule
#: the assistant is told.
RULES: dict[str, str] = {
    "name": "`name` and `class` are required",
    "key": "`key`: lower-case letters, digits, `-`, `_`",
    "model-provider": "ChatOpenAI, AzureChatOpenAI, BedrockChat, ChatVertexAI or ChatOllama",
    "feedback-items": "`FeedbackItems` needs `scorecard` and `score`",
    "feedback-numbers": "are positive whole numbers",
    "depends-on": "with `==`, `!=`, `in`, `not in`",
    "tactus": "a `TactusScore` needs `code`",
    "processors": "a list of mappings, each with a `class`",
    "node-name": "Each node has a unique `name` and a `class`",
    "node-class": "| class | requires |",
    "legacy-class": "YesOrNoClassifier and MultiClassClassifier are legacy",
    "required-params": "| FuzzyMatchClassifier | `data_paths`, `targets` |",
    "pseudo-extractor": "Never a Classifier for free-form extraction: use an Extractor.",
    "confidence": "`enable_confidence: true` needs `parse_from_start: true`",
    "name-clash": "A name must not be a state field",
    "output-direction": "`output` maps `new_name: source_field`",
    "condition-value": "one of the node's `valid_classes`) is matched case-insensitively",
    "condition-target": "`node` is a node name or `END`",
    "routing-output": "makes Plexus ignore the routing: put outputs inside each condition",
}


def score_warnings(data: Any) -> list[str]:
    """Every finding for a score document, as sentences the model and people can act on."""
    if data is None:
        return ["The file is empty: a score needs at least `name` and `class`."]
    if not isinstance(data, dict):
        return [
            "The top level is not a mapping of keys: a score is a mapping with `name` and `class`."
        ]
    warnings: list[str] = []
    _top_level(data, warnings)
    graph = data.get("graph")
    if graph is None:
        return warnings
    if not isinstance(graph, list):
        warnings.append("`graph` should be a list of nodes.")
        return warnings
    _graph(graph, data, warnings)
    return warnings


def _top_level(data: dict[str, Any], out: list[str]) -> None:
    for required in ("name", "class"):
        if data.get(required) in (None, ""):
            out.append(f"The score has no `{required}`.")
    key = data.get("key")
    # plexus/linting/schemas.py: "pattern": "^[a-z0-9_-]+$"
    if key is not None and not (isinstance(key, str) and KEY_PATTERN.match(key)):
        out.append(
            f"`key` {key!r} may use only lower-case letters, digits, `-` and `_` "
            "(Plexus's linter refuses it)."
        )
    _model_provider(data, "The score", out)
    if data.get("class") == "TactusScore" and not _text(data.get("code")):
        # plexus/scores/TactusScore.py: Parameters.code is required.
        out.append("A TactusScore needs `code` (its Tactus program).")
    _data_source(data.get("data"), out)
    _depends_on(data.get("depends_on"), out)
    _processors(data.get("item"), out)


def _model_provider(where: dict[str, Any], label: str, out: list[str]) -> None:
    # plexus/LangChainUser.py: model_provider: Literal["ChatOpenAI", "AzureChatOpenAI", ...]
    provider = where.get("model_provider")
    if provider is not None and provider not in MODEL_PROVIDERS:
        out.append(
            f"{label} has model_provider {provider!r}, which Plexus does not accept: use "
            f"{', '.join(MODEL_PROVIDERS[:-1])} or {MODEL_PROVIDERS[-1]}."
        )


def _data_source(source: Any, out: list[str]) -> None:
    # plexus/linting/data_source_rules.py: FeedbackItemsValidationRule
    if not isinstance(source, dict) or source.get("class") != "FeedbackItems":
        return
    missing = [field for field in ("scorecard", "score") if source.get(field) in (None, "")]
    if missing:
        out.append(
            f"`data` (FeedbackItems) is missing {' and '.join(f'`{m}`' for m in missing)}: "
            "Plexus needs the scorecard and score whose feedback to load."
        )
    for field in ("days", "limit", "limit_per_cell"):
        if field in source and not (
            isinstance(source[field], int)
            and not isinstance(source[field], bool)
            and source[field] > 0
        ):
            out.append(f"`data.{field}` must be a positive whole number, not {source[field]!r}.")


def _depends_on(depends: Any, out: list[str]) -> None:
    # plexus/Scorecard.py: a list of score names, or a map of name -> {operator, value}.
    if depends is None or isinstance(depends, list):
        return
    if not isinstance(depends, dict):
        out.append("`depends_on` should be a list of score names or a map of conditions.")
        return
    for score, condition in depends.items():
        if isinstance(condition, dict):
            operator = condition.get("operator", "==")
            if operator not in DEPENDS_ON_OPERATORS:
                out.append(
                    f"`depends_on` {score!r} uses the operator {operator!r}: use "
                    "==, !=, in or not in."
                )


def _processors(item: Any, out: list[str]) -> None:
    # plexus/linting/rules.py: ProcessorValidationRule
    if not isinstance(item, dict) or "processors" not in item:
        return
    processors = item["processors"]
    if not isinstance(processors, list):
        out.append("`item.processors` must be a list of processors.")
        return
    for index, processor in enumerate(processors):
        if not isinstance(processor, dict) or not processor.get("class"):
            out.append(f"`item.processors[{index}]` has no `class`.")


def _graph(graph: list[Any], data: dict[str, Any], out: list[str]) -> None:
    names: dict[str, int] = {}
    aliases = _output_aliases(graph, data)
    last = len(graph) - 1
    for index, node in enumerate(graph):
        where = f"graph[{index}]"
        if not isinstance(node, dict):
            out.append(f"{where} is not a mapping.")
            continue
        name = node.get("name")
        if not isinstance(name, str) or not name:
            out.append(f"{where} has no `name`.")
        else:
            if name in names:
                out.append(f"{where} reuses the node name {name!r} of graph[{names[name]}].")
            else:
                names[name] = index
            where = f"{where} ({name})"
            # LangGraph's StateGraph.add_node refuses a node named like a state key.
            if name in STATE_FIELDS or name in aliases:
                kind = "a state field" if name in STATE_FIELDS else "an output name"
                out.append(
                    f"{where} has the same name as {kind}; LangGraph refuses such a graph: "
                    "rename the node."
                )
        _node(node, where, index == last, out)
    for index, node in enumerate(graph):
        if isinstance(node, dict):
            _targets(node, f"graph[{index}]", names, out)


def _node(node: dict[str, Any], where: str, is_last: bool, out: list[str]) -> None:
    cls = node.get("class")
    spec = NODE_CLASSES.get(cls) if isinstance(cls, str) else None
    if not cls:
        out.append(f"{where} has no `class`.")
    elif spec is None:
        known = ", ".join(name for name, s in NODE_CLASSES.items() if not s.legacy)
        out.append(f"{where} has the unknown node class {cls!r} (Plexus has: {known}).")
    else:
        if spec.legacy:
            out.append(
                f"{where} uses the legacy class {cls}: Plexus says use Classifier with "
                "`valid_classes` instead."
            )
        for param in spec.required:
            if node.get(param) in (None, "", []):
                out.append(f"{where} is a {cls} without `{param}`, which it requires.")
        _class_specific(node, cls, where, out)
    _model_provider(node, where, out)
    # plexus/linting/rules.py: ConfidenceConfigurationRule
    if node.get("enable_confidence") in (True, "true") and node.get("parse_from_start") not in (
        True,
        "true",
    ):
        out.append(f"{where} has `enable_confidence: true` without `parse_from_start: true`.")
    # plexus/scores/LangGraphScore.py add_edges: a node-level `output` on a node that is
    # not the last adds a plain edge and `continue`s: its conditions and edge are skipped.
    if not is_last and "output" in node and ("conditions" in node or "edge" in node):
        routing = "conditions" if "conditions" in node else "edge"
        out.append(
            f"{where} has `output` beside `{routing}`: Plexus then ignores the routing. "
            f"Move the output into each condition (and into the edge)."
        )
    elif is_last and "output" in node and "conditions" in node:
        # add_edges handles the last node's conditions itself and never applies its
        # node-level output: answers that match no condition end without it.
        out.append(
            f"{where} is the last node and has `output` beside `conditions`: Plexus ignores "
            "that output. Put the output in each condition and in an `edge` to END."
        )
    _output_direction(node.get("output"), where, out)


def _class_specific(node: dict[str, Any], cls: str, where: str, out: list[str]) -> None:
    code = _text(node.get("code"))
    if cls == "LogicalClassifier" and code and not re.search(r"\bdef\s+score\s*\(", code):
        # plexus/scores/nodes/LogicalClassifier.py runs `score(parameters, input)`.
        out.append(f"{where} is a LogicalClassifier whose `code` defines no `score` function.")
    if cls == "LogicalNode" and code:
        # plexus/scores/nodes/LogicalNode.py: function_name defaults to "execute".
        function = node.get("function_name") or "execute"
        if not re.search(rf"\bdef\s+{re.escape(str(function))}\s*\(", code):
            out.append(
                f"{where} is a LogicalNode whose `code` defines no `{function}` function "
                "(set `function_name`)."
            )
    if cls in ("Classifier", "MultiClassClassifier"):
        valid = node.get("valid_classes")
        if valid is not None and not isinstance(valid, list):
            out.append(f"{where} has `valid_classes` that is not a list.")
        elif isinstance(valid, list) and cls == "Classifier" and _is_pseudo_extractor(node):
            # plexus/cli/procedure/tactus_adapters/score_editor_toolset.py refuses it.
            out.append(
                f"{where} uses a Classifier to extract free-form text (valid_classes "
                f"{valid!r}): Plexus refuses this; use an Extractor with "
                "`trust_model_output: true` and map `extracted_text`."
            )


def _is_pseudo_extractor(node: dict[str, Any]) -> bool:
    classes = {str(v).strip().lower() for v in node.get("valid_classes") or [] if str(v).strip()}
    if not classes or not classes <= EXTRACTION_LIKE_CLASSES:
        return False
    prompt = " ".join(_text(node.get(f)) for f in ("system_message", "user_message")).lower()
    name = str(node.get("name") or "").lower()
    return name.startswith("extract") or any(hint in prompt for hint in EXTRACTION_PROMPT_HINTS)


def _output_direction(output: Any, where: str, out: list[str]) -> None:
    """``new_name: source_field``; a mapping written the other way round is a literal."""
    if not isinstance(output, dict):
        return
    for alias, source in output.items():
        if (
            alias in NODE_RESULT_FIELDS
            and alias not in ("value", "explanation")
            and isinstance(source, str)
            and source not in NODE_RESULT_FIELDS
            and source not in STATE_FIELDS
            and re.fullmatch(r"[a-z_][a-z0-9_]*", source)
        ):
            # plexus/scores/LangGraphScore.py create_value_setter_node: an unknown source
            # is stored as a literal string under the alias.
            out.append(
                f"{where} output maps `{alias}: {source}`, which stores the literal text "
                f"{source!r}: output is `new_name: source_field` (did you mean "
                f"`{source}: {alias}`?)."
            )


def _output_aliases(graph: list[Any], data: dict[str, Any]) -> set[str]:
    aliases: set[str] = set()

    def collect(output: Any) -> None:
        if isinstance(output, dict):
            aliases.update(str(k) for k in output)

    collect(data.get("output"))
    for node in graph:
        if not isinstance(node, dict):
            continue
        collect(node.get("output"))
        edge = node.get("edge")
        if isinstance(edge, dict):
            collect(edge.get("output"))
        conditions = node.get("conditions")
        for condition in conditions if isinstance(conditions, list) else []:
            if isinstance(condition, dict):
                collect(condition.get("output"))
    return aliases


def _targets(node: dict[str, Any], where: str, names: dict[str, int], out: list[str]) -> None:
    if isinstance(node.get("name"), str):
        where = f"{where} ({node['name']})"
    targets: list[tuple[str, Any]] = []
    conditions = node.get("conditions")
    if conditions is not None and not isinstance(conditions, list):
        out.append(f"{where} has `conditions` that is not a list.")
        conditions = []
    valid = node.get("valid_classes")
    valid_lower = {str(v).lower() for v in valid} if isinstance(valid, list) and valid else None
    for c_index, condition in enumerate(conditions or []):
        label = f"conditions[{c_index}]"
        if not isinstance(condition, dict):
            out.append(f"{where} {label} is not a mapping.")
            continue
        # plexus/scores/LangGraphScore.py: condition['value'].lower()
        value = condition.get("value")
        if not isinstance(value, str):
            out.append(
                f"{where} {label} needs a string `value` (quote it), not {value!r}: Plexus "
                "compares it, lower-cased, with the node's classification."
            )
        elif valid_lower is not None and value.lower() not in valid_lower:
            out.append(
                f"{where} {label} value {value!r} is not one of the node's valid_classes, "
                "so it never matches."
            )
        if "node" in condition:
            targets.append((label, condition.get("node")))
    edge = node.get("edge")
    if isinstance(edge, dict) and "node" in edge:
        targets.append(("edge", edge.get("node")))
    for what, target in targets:
        if target != END_NODE and (not isinstance(target, str) or target not in names):
            out.append(f"{where} {what} points at the node {target!r}, which does not exist.")


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
