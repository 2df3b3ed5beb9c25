using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Microsoft.Extensions.Primitives;

namespace Keys.KeyAdmin.Rest;

/// <summary>
/// Whether a REST request's body and query string fit the RPC's request message, checked before JSON transcoding
/// reads them. The transcoder answers a misfit with a bare 400 (no reason), quietly drops a misspelt field, and puts
/// the offending value into its message and its log ("Invalid Timestamp value: sk_…"): here every misfit gets a
/// reason and a message that names the field by the API's own name, never what was sent in it.
/// </summary>
public static partial class RequestShape
{
    /// <summary>Nesting deeper than this is refused before it is walked; no request of this API nests past 4.</summary>
    public const int MaxDepth = 32;

    /// <summary>Query fields whose bad values have a reason of their own (the one the RPC gives for a bad value).</summary>
    public static readonly IReadOnlyDictionary<string, string> QueryFieldReasons = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["page_size"] = "INVALID_PAGE_SIZE",
        ["limit"] = "INVALID_LIMIT",
        ["update_mask"] = "INVALID_UPDATE_MASK",
    };

    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = MaxDepth + 2 };

    /// <summary>Null when <paramref name="body"/> is a JSON object that <paramref name="type"/> can take in whole.</summary>
    public static RestRefusal? CheckBody(ReadOnlyMemory<byte> body, MessageDescriptor type)
    {
        if (IsBlank(body.Span))
        {
            return RestRefusal.MalformedJson("The body is empty: send a JSON object ({} when there is nothing to set).");
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body, DocumentOptions);
        }
        catch (JsonException ex)
        {
            // Where, never what: the text at that place is the client's, and might be a key.
            var where = ex.LineNumber is { } line && ex.BytePositionInLine is { } position
                ? $" (line {line + 1}, byte {position + 1})"
                : "";
            return RestRefusal.MalformedJson($"The body is not valid JSON{where}.");
        }

        using (document)
        {
            return CheckMessage(document.RootElement, type, path: "", depth: 0);
        }
    }

    /// <summary>
    /// Null when every query parameter that JSON transcoding would bind to a field of <paramref name="type"/> holds a
    /// value of that field's type. Parameters that name no field are ignored, as the transcoder ignores them.
    /// </summary>
    /// <param name="isBound">Whether a parameter is the route's or the body's, which the transcoder does not take from the query.</param>
    public static RestRefusal? CheckQuery(IEnumerable<KeyValuePair<string, StringValues>> query, MessageDescriptor type, Func<string, bool> isBound)
    {
        foreach (var (name, values) in query)
        {
            if (isBound(name) || Resolve(type, name) is not { } path)
            {
                continue;
            }

            var field = path[^1];
            var fieldPath = string.Join(".", path.Select(f => f.JsonName));
            if (values.Count > 1 && !field.IsRepeated)
            {
                return QueryRefusal(path, fieldPath, $"{fieldPath} takes one value in the query string.");
            }

            foreach (var value in values)
            {
                if (!IsQueryValue(value ?? "", field))
                {
                    return QueryRefusal(path, fieldPath, $"{fieldPath} must be {Expected(field, element: true)}.");
                }
            }
        }

        return null;
    }

    private static RestRefusal QueryRefusal(List<FieldDescriptor> path, string fieldPath, string message) =>
        QueryFieldReasons.TryGetValue(path[0].Name, out var reason)
            ? RestRefusal.InvalidQueryValue(reason, message, fieldPath)
            : RestRefusal.MalformedJson(message, fieldPath);

    /// <summary>A query parameter's field, by proto or JSON name at each step of a dotted path, as the transcoder finds it.</summary>
    private static List<FieldDescriptor>? Resolve(MessageDescriptor type, string name)
    {
        var path = new List<FieldDescriptor>();
        MessageDescriptor? current = type;
        foreach (var part in name.Split('.'))
        {
            var field = current is null ? null : FindField(current, part);
            if (field is null)
            {
                return null;
            }

            path.Add(field);
            current = field.FieldType == FieldType.Message ? field.MessageType : null;
        }

        return path;
    }

    private static bool IsQueryValue(string value, FieldDescriptor field) => field.FieldType switch
    {
        FieldType.String => true,
        FieldType.Bool => bool.TryParse(value, out _),
        FieldType.Int32 or FieldType.SInt32 or FieldType.SFixed32 => int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out _),
        FieldType.UInt32 or FieldType.Fixed32 => uint.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out _),
        FieldType.Int64 or FieldType.SInt64 or FieldType.SFixed64 => long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out _),
        FieldType.UInt64 or FieldType.Fixed64 => ulong.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out _),
        FieldType.Double or FieldType.Float => double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out _),
        FieldType.Enum => field.EnumType.FindValueByName(value) is not null
            || (int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var number) && field.EnumType.FindValueByNumber(number) is not null),
        FieldType.Bytes => IsBase64(value),
        FieldType.Message => field.MessageType.FullName switch
        {
            "google.protobuf.Timestamp" or "google.protobuf.Duration" => ParsesAs(JsonSerializer.Serialize(value), field.MessageType),
            "google.protobuf.FieldMask" => FieldMaskPattern().IsMatch(value),
            _ when IsWrapper(field.MessageType) => IsQueryValue(value, field.MessageType.FindFieldByNumber(1)),
            // The transcoder cannot put a query value into any other message.
            _ => false,
        },
        _ => false,
    };

    private static RestRefusal? CheckMessage(JsonElement value, MessageDescriptor type, string path, int depth)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            return RestRefusal.MalformedJson(path.Length == 0 ? "The body must be a JSON object." : $"{path} must be an object.", NullIfEmpty(path));
        }

        if (depth > MaxDepth)
        {
            return RestRefusal.MalformedJson("The body nests too deeply.", NullIfEmpty(path));
        }

        foreach (var property in value.EnumerateObject())
        {
            var field = FindField(type, property.Name);
            if (field is null)
            {
                return UnknownField(type, property.Name, path);
            }

            var fieldPath = path.Length == 0 ? field.JsonName : $"{path}.{field.JsonName}";
            if (CheckField(property.Value, field, fieldPath, depth) is { } refusal)
            {
                return refusal;
            }
        }

        return null;
    }

    private static RestRefusal? CheckField(JsonElement value, FieldDescriptor field, string path, int depth)
    {
        if (field.IsMap)
        {
            if (value.ValueKind != JsonValueKind.Object)
            {
                return RestRefusal.MalformedJson($"{path} must be an object.", path);
            }

            var valueField = field.MessageType.FindFieldByNumber(2);
            foreach (var entry in value.EnumerateObject())
            {
                if (CheckSingle(entry.Value, valueField, $"{path}.{entry.Name}", depth + 1, nullable: false) is { } refusal)
                {
                    // Map keys are the client's own text: the refusal names the map, not the key.
                    return refusal with { Message = $"A value of {path} must be {Expected(valueField, element: true)}.", Metadata = new Dictionary<string, string> { ["field"] = path } };
                }
            }

            return null;
        }

        if (field.IsRepeated)
        {
            if (value.ValueKind != JsonValueKind.Array)
            {
                return RestRefusal.MalformedJson($"{path} must be an array of {Expected(field, element: true, plural: true)}.", path);
            }

            var index = 0;
            foreach (var item in value.EnumerateArray())
            {
                if (CheckSingle(item, field, $"{path}[{index}]", depth + 1, nullable: false) is { } refusal)
                {
                    return refusal;
                }

                index++;
            }

            return null;
        }

        return CheckSingle(value, field, path, depth, nullable: true);
    }

    private static RestRefusal? CheckSingle(JsonElement value, FieldDescriptor field, string path, int depth, bool nullable)
    {
        // Proto3 JSON: null is the field's default. A null inside a list or map has no default to be.
        if (value.ValueKind == JsonValueKind.Null && (nullable || (field.FieldType == FieldType.Message && field.MessageType.FullName == "google.protobuf.Value")))
        {
            return null;
        }

        if (field.FieldType == FieldType.Message && !IsWellKnown(field.MessageType))
        {
            return CheckMessage(value, field.MessageType, path, depth + 1);
        }

        return IsJsonValue(value, field)
            ? null
            : RestRefusal.MalformedJson($"{path} must be {Expected(field, element: true)}.", path);
    }

    private static bool IsJsonValue(JsonElement value, FieldDescriptor field) => field.FieldType switch
    {
        FieldType.String => value.ValueKind == JsonValueKind.String,
        FieldType.Bool => value.ValueKind is JsonValueKind.True or JsonValueKind.False,
        // JSON transcoding reads 32-bit integers as JSON numbers only, and 64-bit ones as numbers or strings.
        FieldType.Int32 or FieldType.SInt32 or FieldType.SFixed32 => value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out _),
        FieldType.UInt32 or FieldType.Fixed32 => value.ValueKind == JsonValueKind.Number && value.TryGetUInt32(out _),
        FieldType.Int64 or FieldType.SInt64 or FieldType.SFixed64 =>
            (value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out _))
            || (value.ValueKind == JsonValueKind.String && long.TryParse(value.GetString(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _)),
        FieldType.UInt64 or FieldType.Fixed64 =>
            (value.ValueKind == JsonValueKind.Number && value.TryGetUInt64(out _))
            || (value.ValueKind == JsonValueKind.String && ulong.TryParse(value.GetString(), NumberStyles.None, CultureInfo.InvariantCulture, out _)),
        FieldType.Double or FieldType.Float =>
            value.ValueKind == JsonValueKind.Number || (value.ValueKind == JsonValueKind.String && value.GetString() is "NaN" or "Infinity" or "-Infinity"),
        FieldType.Enum =>
            (value.ValueKind == JsonValueKind.String && field.EnumType.FindValueByName(value.GetString()) is not null)
            || (value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var number) && field.EnumType.FindValueByNumber(number) is not null),
        FieldType.Bytes => value.ValueKind == JsonValueKind.String && IsBase64(value.GetString()!),
        FieldType.Message => field.MessageType.FullName switch
        {
            // The transcoder reads these three with Google.Protobuf's rules (camelCase paths only, in a field mask).
            "google.protobuf.Timestamp" or "google.protobuf.Duration" or "google.protobuf.FieldMask" =>
                value.ValueKind == JsonValueKind.String && ParsesAs(value.GetRawText(), field.MessageType),
            "google.protobuf.Struct" => value.ValueKind == JsonValueKind.Object,
            "google.protobuf.ListValue" => value.ValueKind == JsonValueKind.Array,
            "google.protobuf.Value" => true,
            _ when IsWrapper(field.MessageType) => IsJsonValue(value, field.MessageType.FindFieldByNumber(1)),
            // Any, Empty and the rest: an object, read as Google.Protobuf reads it.
            _ => value.ValueKind == JsonValueKind.Object && ParsesAs(value.GetRawText(), field.MessageType),
        },
        _ => false,
    };

    /// <summary>What a field takes, in words a client can act on.</summary>
    private static string Expected(FieldDescriptor field, bool element, bool plural = false)
    {
        if (!element && field.IsRepeated)
        {
            return "an array";
        }

        var single = field.FieldType switch
        {
            FieldType.String => "a string",
            FieldType.Bool => "true or false",
            FieldType.Int32 or FieldType.SInt32 or FieldType.SFixed32 => "a whole number from -2147483648 to 2147483647",
            FieldType.UInt32 or FieldType.Fixed32 => "a whole number from 0 to 4294967295",
            FieldType.Int64 or FieldType.SInt64 or FieldType.SFixed64 or FieldType.UInt64 or FieldType.Fixed64 => "a whole number",
            FieldType.Double or FieldType.Float => "a number",
            FieldType.Enum => $"one of {string.Join(", ", field.EnumType.Values.Select(v => v.Name))}",
            FieldType.Bytes => "base64 text",
            FieldType.Message => field.MessageType.FullName switch
            {
                "google.protobuf.Timestamp" => "an RFC 3339 time in UTC, such as 2030-01-31T12:00:00Z",
                "google.protobuf.Duration" => "a duration in seconds, such as 3600s",
                "google.protobuf.FieldMask" => "field names separated by commas, such as name,scopes",
                "google.protobuf.Struct" => "a JSON object",
                "google.protobuf.ListValue" => "a JSON array",
                _ when IsWrapper(field.MessageType) => Expected(field.MessageType.FindFieldByNumber(1), element: true),
                _ => "an object",
            },
            _ => "a value of its type",
        };
        return plural ? single switch
        {
            "a string" => "strings",
            "an object" => "objects",
            _ => $"values that are each {single}",
        } : single;
    }

    private static RestRefusal UnknownField(MessageDescriptor type, string name, string path)
    {
        var known = string.Join(", ", type.Fields.InFieldNumberOrder().Select(f => f.JsonName));
        var where = path.Length == 0 ? "The body" : path;
        // A misspelt field is echoed so that the client sees the typo; anything else (a pasted key, a page of text) is not.
        return IsEchoableName(name)
            ? RestRefusal.MalformedJson($"{where} has no field '{name}'; its fields are {known}.", path.Length == 0 ? name : $"{path}.{name}")
            : RestRefusal.MalformedJson($"{where} has a field that it does not have; its fields are {known}.", NullIfEmpty(path));
    }

    /// <summary>Both names JSON transcoding accepts: the JSON name (<c>gracePeriodSeconds</c>) and the proto name.</summary>
    private static FieldDescriptor? FindField(MessageDescriptor type, string name)
    {
        FieldDescriptor? byProtoName = null;
        foreach (var field in type.Fields.InFieldNumberOrder())
        {
            if (field.JsonName == name)
            {
                return field;
            }

            byProtoName ??= field.Name == name ? field : null;
        }

        return byProtoName;
    }

    /// <summary>
    /// A name short and plain enough to be a misspelt field: shorter than any key, operator token or admin token (32
    /// characters at least), and not one.
    /// </summary>
    public static bool IsEchoableName(string name) =>
        EchoableNamePattern().IsMatch(name) && !ApiKeys.KeyString.IsWellFormed(name) && !ApiKeys.OperatorToken.IsWellFormed(name);

    private static bool ParsesAs(string json, MessageDescriptor type)
    {
        try
        {
            JsonParser.Default.Parse(json, type);
            return true;
        }
        catch (Exception ex) when (ex is InvalidProtocolBufferException or InvalidJsonException or FormatException or ArgumentException)
        {
            return false;
        }
    }

    private static bool IsBase64(string value) => System.Buffers.Text.Base64.IsValid(value);

    private static bool IsWellKnown(MessageDescriptor type) => type.File.Package == "google.protobuf";

    private static bool IsWrapper(MessageDescriptor type) => type.File.Name == "google/protobuf/wrappers.proto";

    private static bool IsBlank(ReadOnlySpan<byte> body)
    {
        foreach (var b in body)
        {
            if (b is not ((byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n'))
            {
                return false;
            }
        }

        return true;
    }

    private static string? NullIfEmpty(string path) => path.Length == 0 ? null : path;

    [GeneratedRegex(@"^[A-Za-z_][A-Za-z0-9_]{0,30}\z")]
    private static partial Regex EchoableNamePattern();

    // Paths of field names (camelCase or snake_case), dotted, separated by commas: a query string's field mask.
    [GeneratedRegex(@"^(?:[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*(?:,[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)*)?\z")]
    private static partial Regex FieldMaskPattern();
}
