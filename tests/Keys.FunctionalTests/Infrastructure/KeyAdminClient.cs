namespace Keys.FunctionalTests.Infrastructure;

public sealed record ProjectDto(string Id, string Name, IReadOnlyList<EnvironmentDto> Environments);

public sealed record EnvironmentDto(string Name);

public sealed record ApiKeyDto(string Id, string Name, string Type, string MaskedKey, IReadOnlyList<string> Scopes, string? Value);

public sealed record CreatedKeyDto(ApiKeyDto Key, string Value);

public sealed record KeyListDto(IReadOnlyList<ApiKeyDto> Keys);

/// <summary>KeyAdmin's REST API as a test uses it: every call checks its status and returns the parsed body.</summary>
public sealed class KeyAdminClient(HttpClient http)
{
    public HttpClient Http => http;

    public async Task<ProjectDto> CreateProjectAsync(string name = "Test project")
    {
        var response = await http.PostAsJsonAsync("/v1/projects", new { name });
        return await ReadAsync<ProjectDto>(response);
    }

    public async Task<CreatedKeyDto> CreateKeyAsync(string projectId, string environment, string name, string type)
    {
        var response = await http.PostAsJsonAsync($"/v1/projects/{projectId}/environments/{environment}/keys", new { name, type });
        return await ReadAsync<CreatedKeyDto>(response);
    }

    public async Task<KeyListDto> ListKeysAsync(string projectId, string environment) =>
        await ReadAsync<KeyListDto>(await http.GetAsync($"/v1/projects/{projectId}/environments/{environment}/keys"));

    public Task<HttpResponseMessage> DeleteKeyAsync(string projectId, string environment, string keyId, string confirmName) =>
        http.DeleteAsync($"/v1/projects/{projectId}/environments/{environment}/keys/{keyId}?confirmName={Uri.EscapeDataString(confirmName)}");

    private static async Task<T> ReadAsync<T>(HttpResponseMessage response)
    {
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }

        return (await response.Content.ReadFromJsonAsync<T>())!;
    }
}
