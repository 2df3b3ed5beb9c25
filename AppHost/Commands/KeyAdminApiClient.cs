using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

namespace Keys.AppHost.Commands;

/// <summary>
/// KeyAdmin's REST API as the dashboard's commands call it: with the dashboard's own credential, so that the audit log
/// names "dashboard". A refusal becomes the API's own message and stable code, for the dashboard to show.
/// </summary>
public sealed class KeyAdminApiClient(Uri baseAddress, string token)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);

    public Task<JsonElement> PostAsync(string path, object body, CancellationToken cancellationToken) =>
        SendAsync(HttpMethod.Post, path, body, cancellationToken);

    public Task<JsonElement> DeleteAsync(string path, CancellationToken cancellationToken) =>
        SendAsync(HttpMethod.Delete, path, null, cancellationToken);

    private async Task<JsonElement> SendAsync(HttpMethod method, string path, object? body, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { BaseAddress = baseAddress, Timeout = Timeout };
        using var request = new HttpRequestMessage(method, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (body is not null)
        {
            request.Content = JsonContent.Create(body, options: JsonSerializerOptions.Web);
        }

        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, cancellationToken);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            throw new KeyAdminApiException("KeyAdmin could not be reached: check that key-admin is running, then try again.");
        }

        using (response)
        {
            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            JsonElement json;
            try
            {
                json = JsonDocument.Parse(text.Length == 0 ? "{}" : text).RootElement.Clone();
            }
            catch (JsonException)
            {
                throw new KeyAdminApiException($"KeyAdmin answered {(int)response.StatusCode} {response.ReasonPhrase}.");
            }

            return response.IsSuccessStatusCode ? json : throw KeyAdminApiException.From(json, response);
        }
    }
}

/// <summary>A refusal from KeyAdmin, in its words: the message and, in brackets, the stable code a script would act on.</summary>
public sealed class KeyAdminApiException(string message) : Exception(message)
{
    public static KeyAdminApiException From(JsonElement error, HttpResponseMessage response)
    {
        var message = error.TryGetProperty("message", out var m) && m.GetString() is { Length: > 0 } text
            ? text
            : $"KeyAdmin answered {(int)response.StatusCode} {response.ReasonPhrase}.";
        var reason = error.TryGetProperty("details", out var details) && details.ValueKind == JsonValueKind.Array
            ? details.EnumerateArray().Select(d => d.TryGetProperty("reason", out var r) ? r.GetString() : null).FirstOrDefault(r => r is not null)
            : null;
        return new KeyAdminApiException(reason is null ? message : $"{message} ({reason})");
    }
}
