using System.Net;
using System.Text.Json;

namespace Keys.FunctionalTests.Infrastructure;

public sealed record ErrorBody(int StatusCode, string Error, string Message);

public sealed record EchoBody(string Method, string Path, string Query, Dictionary<string, string> Headers)
{
    public bool HasHeader(string name) => Headers.Keys.Any(k => string.Equals(k, name, StringComparison.OrdinalIgnoreCase));

    public string? Header(string name) => Headers.FirstOrDefault(h => string.Equals(h.Key, name, StringComparison.OrdinalIgnoreCase)).Value;
}

public static class GatewayResponses
{
    public static async Task<ErrorBody> ReadErrorAsync(this HttpResponseMessage response)
    {
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var body = await response.Content.ReadFromJsonAsync<ErrorBody>(JsonSerializerOptions.Web);
        Assert.NotNull(body);
        Assert.Equal((int)response.StatusCode, body.StatusCode);
        Assert.False(string.IsNullOrWhiteSpace(body.Message));
        return body;
    }

    public static async Task<EchoBody> ReadEchoAsync(this HttpResponseMessage response)
    {
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        return (await response.Content.ReadFromJsonAsync<EchoBody>(JsonSerializerOptions.Web))!;
    }

    /// <summary>
    /// Requests <paramref name="path"/> with <paramref name="apiKey"/> until the answer is not 200 or
    /// <paramref name="within"/> has passed (from the call), and returns the last answer: for revocations, which reach
    /// gateways within milliseconds but not synchronously with the DELETE.
    /// </summary>
    public static async Task<HttpResponseMessage> FirstRejectionAsync(this HttpClient client, string path, string apiKey, TimeSpan within)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        HttpResponseMessage response;
        do
        {
            response = await client.SendAsync(Get(path, apiKey));
        }
        while (response.StatusCode == System.Net.HttpStatusCode.OK && clock.Elapsed < within);

        return response;
    }

    /// <summary>Each gateway serves the key twice: the first may be a lookup, the second comes from its near cache.</summary>
    public static async Task EveryGatewayPassesAsync(this IReadOnlyList<HttpClient> gateways, string apiKey, string path = "/demo/public/x")
    {
        foreach (var gateway in gateways.Concat(gateways))
        {
            var response = await gateway.SendAsync(Get(path, apiKey));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }

    /// <summary>
    /// True when every gateway passes the key right now; false on any other answer or no answer, for a test that waits
    /// for a system to recover (a restart, a failover).
    /// </summary>
    public static async Task<bool> EveryGatewayPassesNowAsync(this IReadOnlyList<HttpClient> gateways, string apiKey, string path = "/demo/public/x")
    {
        foreach (var gateway in gateways)
        {
            try
            {
                if ((await gateway.SendAsync(Get(path, apiKey))).StatusCode != HttpStatusCode.OK)
                {
                    return false;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Each gateway refuses the key with this status and reason within <paramref name="within"/>.</summary>
    public static async Task EveryGatewayRefusesAsync(
        this IReadOnlyList<HttpClient> gateways, string apiKey, HttpStatusCode status, string reason, TimeSpan within, string path = "/demo/public/x")
    {
        foreach (var gateway in gateways)
        {
            var response = await gateway.FirstRejectionAsync(path, apiKey, within);
            Assert.Equal(status, response.StatusCode);
            Assert.Equal(reason, (await response.ReadErrorAsync()).Error);
        }
    }

    public static HttpRequestMessage Get(string path, string? apiKey = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (apiKey is not null)
        {
            request.Headers.Add("X-API-Key", apiKey);
        }

        return request;
    }
}
