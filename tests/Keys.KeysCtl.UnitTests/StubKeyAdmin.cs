using System.Net;
using System.Text;

namespace Keys.KeysCtl.UnitTests;

/// <summary>A request as keysctl sent it.</summary>
public sealed record SentRequest(HttpMethod Method, Uri Uri, string? Authorization, string? Body)
{
    /// <summary>The path and query, as the API routes them.</summary>
    public string Target => Uri.PathAndQuery;
}

/// <summary>
/// Stands in for KeyAdmin's REST API: answers each request with what the test says, and keeps every request, so a test
/// can assert what was sent, or that nothing was.
/// </summary>
public sealed class StubKeyAdmin(Func<SentRequest, HttpResponseMessage> respond) : HttpMessageHandler
{
    private readonly List<SentRequest> _requests = [];

    public StubKeyAdmin()
        : this(_ => Json(HttpStatusCode.OK, "{}"))
    {
    }

    public IReadOnlyList<SentRequest> Requests => _requests;

    public static HttpResponseMessage Json(HttpStatusCode status, string json) =>
        new(status) { Content = new StringContent(json, Encoding.UTF8, "application/json") };

    public static HttpResponseMessage Ok(string json) => Json(HttpStatusCode.OK, json);

    /// <summary>A refusal as KeyAdmin sends it: a google.rpc.Status with an ErrorInfo.</summary>
    public static HttpResponseMessage Error(HttpStatusCode status, int code, string message, string reason) => Json(
        status,
        $$$"""{"code":{{{code}}},"message":"{{{message}}}","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"{{{reason}}}","domain":"keys.v1","metadata":{}}]}""");

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var sent = new SentRequest(
            request.Method,
            request.RequestUri!,
            request.Headers.Authorization?.ToString(),
            request.Content is null ? null : await request.Content.ReadAsStringAsync(cancellationToken));
        lock (_requests)
        {
            _requests.Add(sent);
        }

        return respond(sent);
    }
}
