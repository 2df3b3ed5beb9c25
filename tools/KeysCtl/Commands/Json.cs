using System.Globalization;
using System.Text.Json.Nodes;

namespace Keys.KeysCtl.Commands;

/// <summary>Request bodies' values in the API's JSON forms.</summary>
public static class Json
{
    /// <summary>A google.protobuf.Timestamp: RFC 3339 in UTC, to the second.</summary>
    public static JsonNode Timestamp(DateTimeOffset instant) =>
        JsonValue.Create(instant.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture));

    public static JsonArray Array(IEnumerable<string> values) => new(values.Select(v => (JsonNode?)JsonValue.Create(v)).ToArray());
}
