package org.motcua.operaton.spin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.Writer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.operaton.spin.SpinList;
import org.operaton.spin.json.SpinJsonNode;
import org.operaton.spin.json.SpinJsonPathQuery;

/** A Jackson tree as a Spin JSON node: reads, property edits and array edits; no JSONPath. */
public class JacksonJsonNode extends SpinJsonNode {

  private final JsonNode node;
  private final JacksonJsonDataFormat format;

  public JacksonJsonNode(JsonNode node, JacksonJsonDataFormat format) {
    this.node = node;
    this.format = format;
  }

  private JacksonJsonNode wrap(JsonNode child) {
    return child == null ? null : new JacksonJsonNode(child, format);
  }

  private JsonNode tree(Object value) {
    if (value instanceof JacksonJsonNode other) {
      return other.node;
    }
    return format.objectMapper().valueToTree(value);
  }

  private ObjectNode object() {
    if (!node.isObject()) {
      throw new IllegalStateException("not a JSON object");
    }
    return (ObjectNode) node;
  }

  private ArrayNode array() {
    if (!node.isArray()) {
      throw new IllegalStateException("not a JSON array");
    }
    return (ArrayNode) node;
  }

  private static final class JsonList extends ArrayList<SpinJsonNode> implements SpinList<SpinJsonNode> {}

  @Override public String getDataFormatName() { return format.getName(); }
  @Override public Object unwrap() { return node; }
  @Override public String toString() { return node.toString(); }

  @Override
  public void writeToWriter(Writer writer) {
    format.getWriter().writeToWriter(writer, node);
  }

  @Override
  public <C> C mapTo(Class<C> type) {
    return format.getMapper().mapInternalToJava(node, type);
  }

  @Override
  public <C> C mapTo(String type) {
    return format.getMapper().mapInternalToJava(node, type);
  }

  @Override
  public Integer indexOf(Object searchObject) {
    JsonNode wanted = tree(searchObject);
    for (int i = 0; i < array().size(); i++) {
      if (node.get(i).equals(wanted)) {
        return i;
      }
    }
    return -1;
  }

  @Override
  public Integer lastIndexOf(Object searchObject) {
    JsonNode wanted = tree(searchObject);
    for (int i = array().size() - 1; i >= 0; i--) {
      if (node.get(i).equals(wanted)) {
        return i;
      }
    }
    return -1;
  }

  @Override public boolean contains(Object searchObject) { return indexOf(searchObject) >= 0; }
  @Override public boolean isObject() { return node.isObject(); }
  @Override public boolean hasProp(String name) { return node.has(name); }

  @Override
  public SpinJsonNode prop(String name) {
    JsonNode child = node.get(name);
    if (child == null) {
      throw new IllegalArgumentException("no property " + name);
    }
    return wrap(child);
  }

  private SpinJsonNode set(String name, Object value) {
    object().set(name, value == null ? format.objectMapper().nullNode() : tree(value));
    return this;
  }

  @Override public SpinJsonNode prop(String name, String value) { return set(name, value); }
  @Override public SpinJsonNode prop(String name, Number value) { return set(name, value); }
  @Override public SpinJsonNode prop(String name, int value) { return set(name, value); }
  @Override public SpinJsonNode prop(String name, float value) { return set(name, value); }
  @Override public SpinJsonNode prop(String name, long value) { return set(name, value); }
  @Override public SpinJsonNode prop(String name, boolean value) { return set(name, value); }
  @Override public SpinJsonNode prop(String name, Boolean value) { return set(name, value); }
  @Override public SpinJsonNode prop(String name, List<Object> value) { return set(name, value); }
  @Override public SpinJsonNode prop(String name, Map<String, Object> value) { return set(name, value); }
  @Override public SpinJsonNode prop(String name, SpinJsonNode value) { return set(name, value); }

  @Override
  public SpinJsonNode deleteProp(String name) {
    object().remove(name);
    return this;
  }

  @Override
  public SpinJsonNode deleteProp(List<String> names) {
    object().remove(names);
    return this;
  }

  @Override
  public SpinJsonNode append(Object property) {
    array().add(tree(property));
    return this;
  }

  @Override
  public SpinJsonNode insertAt(int index, Object property) {
    array().insert(index, tree(property));
    return this;
  }

  @Override
  public SpinJsonNode insertBefore(Object searchObject, Object insertObject) {
    int index = indexOf(searchObject);
    if (index < 0) {
      throw new IllegalArgumentException("element not found");
    }
    return insertAt(index, insertObject);
  }

  @Override
  public SpinJsonNode insertAfter(Object searchObject, Object insertObject) {
    int index = indexOf(searchObject);
    if (index < 0) {
      throw new IllegalArgumentException("element not found");
    }
    return insertAt(index + 1, insertObject);
  }

  @Override
  public SpinJsonNode remove(Object property) {
    int index = indexOf(property);
    if (index >= 0) {
      array().remove(index);
    }
    return this;
  }

  @Override
  public SpinJsonNode removeLast(Object property) {
    int index = lastIndexOf(property);
    if (index >= 0) {
      array().remove(index);
    }
    return this;
  }

  @Override
  public SpinJsonNode removeAt(int index) {
    array().remove(index);
    return this;
  }

  @Override public Boolean isBoolean() { return node.isBoolean(); }
  @Override public Boolean boolValue() { return node.booleanValue(); }
  @Override public Boolean isNumber() { return node.isNumber(); }
  @Override public Number numberValue() { return node.numberValue(); }
  @Override public Boolean isString() { return node.isTextual(); }
  @Override public String stringValue() { return node.textValue(); }
  @Override public Boolean isNull() { return node.isNull(); }
  @Override public Boolean isValue() { return node.isValueNode(); }

  @Override
  public Object value() {
    if (node.isBoolean()) {
      return node.booleanValue();
    }
    if (node.isNumber()) {
      return node.numberValue();
    }
    if (node.isTextual()) {
      return node.textValue();
    }
    if (node.isNull()) {
      return null;
    }
    throw new IllegalStateException("not a JSON value: " + node.getNodeType());
  }

  @Override public Boolean isArray() { return node.isArray(); }

  @Override
  public SpinList<SpinJsonNode> elements() {
    JsonList list = new JsonList();
    array().forEach(child -> list.add(wrap(child)));
    return list;
  }

  @Override
  public List<String> fieldNames() {
    List<String> names = new ArrayList<>();
    object().fieldNames().forEachRemaining(names::add);
    return names;
  }

  @Override
  public SpinJsonPathQuery jsonPath(String expression) {
    throw new UnsupportedOperationException("JSONPath is not supported by Motcua's Spin JSON data format");
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof JacksonJsonNode o && node.equals(o.node);
  }

  @Override
  public int hashCode() {
    return node.hashCode();
  }
}
