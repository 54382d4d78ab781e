"""Who reads whom in a functional model, from its config (no private Keras state).

Used by compression (QAT placement, channel pruning) and by methods that
split a network (AFD's feature extractor)."""


def _sources(value):
    """The names of the layers whose tensors appear in a serialized call's arguments."""
    if isinstance(value, dict):
        if value.get("class_name") == "__keras_tensor__":
            yield value["config"]["keras_history"][0]
        for item in value.values():
            yield from _sources(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _sources(item)


def layer_graph(model):
    """`(producers, consumers)`: layer name -> names of the layers it reads / that read it."""
    producers = {layer.name: [] for layer in model.layers}
    consumers = {layer.name: [] for layer in model.layers}
    for entry in model.get_config()["layers"]:
        for source in dict.fromkeys(_sources(entry.get("inbound_nodes", []))):
            producers[entry["name"]].append(source)
            consumers[source].append(entry["name"])
    return producers, consumers


def output_layers(model):
    """The names of the layers whose outputs are the model's outputs."""
    return {layer.name for layer in model.layers if any(layer.output is out for out in model.outputs)}


def ancestors(model, layer_name):
    """The names of `layer_name` and of every layer its output depends on (inputs included)."""
    producers, _ = layer_graph(model)
    found, stack = set(), [layer_name]
    while stack:
        name = stack.pop()
        if name not in found:
            found.add(name)
            stack.extend(producers[name])
    return found
