using System.Net;
using System.Net.Http.Headers;
using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Google.Protobuf;

namespace Keys.KeysCtl.Api;

/// <summary>An answer of the API: the message as the contract types it, and the JSON as it came (for <c>--output json</c>).</summary>
public sealed record ApiReply<T>(T Message, JsonNode Json);

/// <summary>
/// KeyAdmin's REST API (the JSON transcoding of <c>keys.v1.KeyAdminService</c>), as keysctl calls it: bearer token,
/// JSON in and out, every refusal turned into an <see cref="ApiException"/> and every network failure into a
/// <see cref="KeysCtlException"/> that says which server did not answer.
/// </summary>
public sealed class KeyAdminApi : IDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    // A newer KeyAdmin may add fields: an older keysctl shows what it knows and passes the rest through in JSON output.
    private static readonly JsonParser Parser = new(JsonParser.Settings.Default.WithIgnoreUnknownFields(true));

    private static readonly string UserAgent =
        $"keysctl/{typeof(KeyAdminApi).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]}";

    private readonly HttpClient _http;

    private readonly string _server;

    public KeyAdminApi(Uri url, string token, HttpMessageHandler? handler = null)
    {
        _server = Config.Target.Normalize(url);
        // No automatic redirects: a redirected POST turns into a GET, and a redirect to another host is a place the
        // token was not meant for. A 3xx is reported instead, with where it pointed.
        _http = handler is null
            ? new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false, ConnectTimeout = TimeSpan.FromSeconds(10) })
            : new HttpClient(handler, disposeHandler: false);
        _http.BaseAddress = new Uri(_server + "/");
        _http.Timeout = Timeout;
        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        _http.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        _http.DefaultRequestHeaders.UserAgent.ParseAdd(UserAgent);
    }

    /// <summary>One path segment from user input (an ID, an environment): escaped, so that it cannot reach another route.</summary>
    public static string Segment(string value)
    {
        if (value.Length == 0 || value is "." or "..")
        {
            throw new KeysCtlException($"'{Sanitize.Line(value)}' is not an ID or a name");
        }

        return Uri.EscapeDataString(value);
    }

    public Task<ApiReply<T>> GetAsync<T>(string path, CancellationToken cancellationToken)
        where T : IMessage<T>, new() =>
        SendAsync<T>(new HttpRequestMessage(HttpMethod.Get, path), cancellationToken);

    public Task<ApiReply<T>> PostAsync<T>(string path, JsonObject body, CancellationToken cancellationToken)
        where T : IMessage<T>, new() =>
        SendAsync<T>(WithBody(HttpMethod.Post, path, body), cancellationToken);

    /// <summary>A partial update: KeyAdmin changes the fields present in <paramref name="body"/> (null clears one) and no other.</summary>
    public Task<ApiReply<T>> PatchAsync<T>(string path, JsonObject body, CancellationToken cancellationToken)
        where T : IMessage<T>, new() =>
        SendAsync<T>(WithBody(HttpMethod.Patch, path, body), cancellationToken);

    public Task<ApiReply<T>> DeleteAsync<T>(string path, CancellationToken cancellationToken)
        where T : IMessage<T>, new() =>
        SendAsync<T>(new HttpRequestMessage(HttpMethod.Delete, path), cancellationToken);

    public void Dispose() => _http.Dispose();

    private static HttpRequestMessage WithBody(HttpMethod method, string path, JsonObject body) =>
        new(method, path) { Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json") };

    private async Task<ApiReply<T>> SendAsync<T>(HttpRequestMessage request, CancellationToken cancellationToken)
        where T : IMessage<T>, new()
    {
        using (request)
        {
            try
            {
                using var response = await _http.SendAsync(request, cancellationToken);
                var body = await response.Content.ReadAsStringAsync(cancellationToken);
                if ((int)response.StatusCode is >= 300 and < 400)
                {
                    throw new KeysCtlException(
                        $"KeyAdmin at {_server} answered HTTP {(int)response.StatusCode}, a redirect to {Sanitize.Line(response.Headers.Location?.ToString())}",
                        "give keysctl the URL it redirects to (--url or KEYSCTL_URL)");
                }

                if (!response.IsSuccessStatusCode)
                {
                    throw new ApiException(ApiError.From(response.StatusCode, response.ReasonPhrase, body, RetryAfter(response)));
                }

                return Parse<T>(body, response);
            }
            catch (HttpRequestException e)
            {
                throw new KeysCtlException($"cannot reach KeyAdmin at {_server}: {Sanitize.Line(e.Message)}");
            }
            catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new KeysCtlException($"KeyAdmin at {_server} did not answer within {Timeout.TotalSeconds:0} s");
            }
        }
    }

    private ApiReply<T> Parse<T>(string body, HttpResponseMessage response)
        where T : IMessage<T>, new()
    {
        try
        {
            var json = JsonNode.Parse(body) ?? throw new JsonException();
            return new ApiReply<T>(Parser.Parse<T>(body), json);
        }
        catch (Exception e) when (e is JsonException or InvalidProtocolBufferException or InvalidJsonException)
        {
            throw new KeysCtlException(
                $"KeyAdmin at {_server} answered HTTP {(int)response.StatusCode} with something that is not the API's JSON ({response.Content.Headers.ContentType?.MediaType ?? "no content type"})",
                "is that URL KeyAdmin's HTTP endpoint?");
        }
    }

    private static TimeSpan? RetryAfter(HttpResponseMessage response) =>
        response.StatusCode == HttpStatusCode.TooManyRequests && response.Headers.RetryAfter is { } retry
            ? retry.Delta ?? (retry.Date - DateTimeOffset.UtcNow)
            : null;
}
