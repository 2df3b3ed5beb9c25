using System.Net;
using System.Text.Json;

namespace Keys.KeysCtl.Api;

/// <summary>
/// A refusal from KeyAdmin: its <c>google.rpc.Status</c> body
/// (<c>{"code":5,"message":"…","details":[{"@type":"…/google.rpc.ErrorInfo","reason":"PROJECT_NOT_FOUND",…}]}</c>)
/// and HTTP status, or what can be said of an answer that is not one.
/// </summary>
public sealed record ApiError(int HttpStatus, string Message, string? Reason, TimeSpan? RetryAfter = null)
{
    private const string ErrorInfoType = "type.googleapis.com/google.rpc.ErrorInfo";

    /// <summary>The line after <c>error: </c>: the API's message and its stable code (or the HTTP status, lacking one).</summary>
    public string Describe() =>
        Reason is not null ? $"{Message} ({Reason})"
        : Message.Contains($"HTTP {HttpStatus}", StringComparison.Ordinal) ? Message
        : $"{Message} (HTTP {HttpStatus})";

    public static ApiError From(HttpStatusCode status, string? reasonPhrase, string? body, TimeSpan? retryAfter = null)
    {
        var code = (int)status;
        string? message = null;
        string? reason = null;
        try
        {
            using var document = JsonDocument.Parse(string.IsNullOrEmpty(body) ? "null" : body);
            var root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Object)
            {
                if (root.TryGetProperty("message", out var text) && text.ValueKind == JsonValueKind.String)
                {
                    message = text.GetString();
                }

                if (root.TryGetProperty("details", out var details) && details.ValueKind == JsonValueKind.Array)
                {
                    reason = details.EnumerateArray()
                        .Where(d => d.ValueKind == JsonValueKind.Object
                            && d.TryGetProperty("@type", out var type) && type.ValueEquals(ErrorInfoType)
                            && d.TryGetProperty("reason", out var r) && r.ValueKind == JsonValueKind.String)
                        .Select(d => d.GetProperty("reason").GetString())
                        .FirstOrDefault();
                }
            }
        }
        catch (JsonException)
        {
            // Not the API's JSON (a proxy's page, an empty body): the HTTP status is all there is to say.
        }

        if (string.IsNullOrWhiteSpace(message))
        {
            message = $"KeyAdmin answered HTTP {code} {reasonPhrase ?? status.ToString()}".TrimEnd();
        }

        if (retryAfter is { } wait)
        {
            message += $"; retry in {Math.Ceiling(wait.TotalSeconds):0} s";
        }

        return new ApiError(code, Sanitize.Line(message), reason is null ? null : Sanitize.Line(reason), retryAfter);
    }
}

/// <summary>KeyAdmin refused the call; keysctl prints <see cref="ApiError.Describe"/> and exits 1.</summary>
public sealed class ApiException(ApiError error) : KeysCtlException(error.Describe(), HintFor(error))
{
    public ApiError Error => error;

    private static string? HintFor(ApiError error) => error.HttpStatus switch
    {
        401 => "the token was refused: run `keysctl login` again, or check KEYSCTL_TOKEN",
        501 => "this KeyAdmin does not serve that call yet: it is older than this keysctl",
        _ => null,
    };
}
