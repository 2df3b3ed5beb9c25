using System.Text.Encodings.Web;
using System.Text.Json;
using Keys.KeyAdmin.Grpc;
using Keys.KeyAdmin.OpenApi;
using Code = Google.Rpc.Code;

namespace Keys.KeyAdmin.Rest;

/// <summary>
/// A refusal of the REST layer, answered before the RPC runs, in the API's one error shape:
/// <c>{"code":3,"message":"…","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"…","domain":"keys.v1","metadata":{…}}]}</c>,
/// as JSON transcoding writes the RPCs' own refusals. Messages never carry what the client sent, only names this API
/// defines: a key pasted in the wrong place must not come back, or reach a log.
/// </summary>
public sealed record RestRefusal(int HttpStatus, Code GrpcCode, string Reason, string Message, IReadOnlyDictionary<string, string>? Metadata = null)
{
    private const string ErrorInfoType = "type.googleapis.com/google.rpc.ErrorInfo";

    // The encoder JSON transcoding uses: quotes and apostrophes in messages stay readable.
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static RestRefusal MalformedJson(string message, string? field = null) =>
        new(StatusCodes.Status400BadRequest, Code.InvalidArgument, ErrorCatalog.MalformedJson, message, FieldMetadata(field));

    /// <summary>A query-string value that does not fit its field: the field's own reason, as the RPC would give it.</summary>
    public static RestRefusal InvalidQueryValue(string reason, string message, string field) =>
        new(StatusCodes.Status400BadRequest, Code.InvalidArgument, reason, message, FieldMetadata(field));

    public static RestRefusal RouteNotFound() =>
        new(StatusCodes.Status404NotFound, Code.NotFound, ErrorCatalog.RouteNotFound,
            "No operation has this path. The operations and their paths are in /openapi/v1.json.");

    public static RestRefusal MethodNotAllowed(IReadOnlyList<string> allowed) =>
        new(StatusCodes.Status405MethodNotAllowed, Code.Unimplemented, ErrorCatalog.MethodNotAllowed,
            $"This path takes {string.Join(", ", allowed)} only.", new Dictionary<string, string> { ["allow"] = string.Join(", ", allowed) });

    // RESOURCE_EXHAUSTED is what gRPC itself answers for a message over its size limit.
    public static RestRefusal RequestTooLarge(long limit) =>
        new(StatusCodes.Status413PayloadTooLarge, Code.ResourceExhausted, ErrorCatalog.RequestTooLarge,
            $"The body is larger than {limit} bytes, the most this API reads; nothing was done.",
            new Dictionary<string, string> { ["limit"] = limit.ToString(System.Globalization.CultureInfo.InvariantCulture) });

    public static RestRefusal UnsupportedMediaType() =>
        new(StatusCodes.Status415UnsupportedMediaType, Code.InvalidArgument, ErrorCatalog.UnsupportedMediaType,
            "Send the body as JSON in UTF-8, with 'Content-Type: application/json'.");

    /// <summary>The error as JSON transcoding writes one: the same fields, in the same order.</summary>
    public byte[] ToJson()
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            writer.WriteStartObject();
            writer.WriteNumber("code", (int)GrpcCode);
            writer.WriteString("message", Message);
            writer.WriteStartArray("details");
            writer.WriteStartObject();
            writer.WriteString("@type", ErrorInfoType);
            writer.WriteString("reason", Reason);
            writer.WriteString("domain", ApiErrors.Domain);
            writer.WriteStartObject("metadata");
            foreach (var (key, value) in Metadata ?? new Dictionary<string, string>())
            {
                writer.WriteString(key, value);
            }

            writer.WriteEndObject();
            writer.WriteEndObject();
            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        return buffer.ToArray();
    }

    public async Task WriteAsync(HttpResponse response)
    {
        var body = ToJson();
        response.StatusCode = HttpStatus;
        response.ContentType = "application/json; charset=utf-8";
        response.ContentLength = body.Length;
        await response.Body.WriteAsync(body);
    }

    private static Dictionary<string, string>? FieldMetadata(string? field) =>
        field is null ? null : new Dictionary<string, string> { ["field"] = field };
}
