namespace Keys.FunctionalTests.Infrastructure;

public sealed record ProjectDto(string Id, string Name, IReadOnlyList<EnvironmentDto> Environments, DateTimeOffset CreatedAt);

public sealed record EnvironmentDto(string Name, DateTimeOffset CreatedAt);

public sealed record ProjectListDto(IReadOnlyList<ProjectDto> Projects);

public sealed record ApiKeyDto(
    string Id,
    string Name,
    string Type,
    string Environment,
    string MaskedKey,
    IReadOnlyList<string> Scopes,
    DateTimeOffset CreatedAt,
    string? CreatedBy,
    DateTimeOffset? ExpiresAt,
    DateTimeOffset? LastUsedAt,
    DateTimeOffset? GraceUntil,
    string? RolledFrom,
    string? Value);

public sealed record CreatedKeyDto(ApiKeyDto Key, string Value);

public sealed record RolledKeyDto(ApiKeyDto Key, string Value, ApiKeyDto PreviousKey);

public sealed record KeyListDto(IReadOnlyList<ApiKeyDto> Keys);

public sealed record AuditEventDto(
    long Id, string Action, string? KeyId, string? KeyName, string? Environment, string Actor, string ActorId, string? ProjectId, DateTimeOffset OccurredAt);

public sealed record AuditListDto(IReadOnlyList<AuditEventDto> Events);

public sealed record ApiErrorDetail(string Reason, string Domain);

public sealed record ApiErrorDto(int Code, string Message, IReadOnlyList<ApiErrorDetail> Details)
{
    public string Reason => Assert.Single(Details).Reason;
}

/// <summary>KeyAdmin's REST API as a test uses it: every call checks its status and returns the parsed body.</summary>
public sealed class KeyAdminClient(HttpClient http)
{
    public HttpClient Http => http;

    public async Task<ProjectDto> CreateProjectAsync(string name = "Test project")
    {
        var response = await http.PostAsJsonAsync("/v1/projects", new { name });
        return await ReadAsync<ProjectDto>(response);
    }

    public async Task<CreatedKeyDto> CreateKeyAsync(
        string projectId, string environment, string name, string type, CancellationToken cancellationToken = default) =>
        await ReadAsync<CreatedKeyDto>(await PostKeyAsync(projectId, environment, new { name, type }, cancellationToken));

    public Task<HttpResponseMessage> PostKeyAsync(string projectId, string environment, object body, CancellationToken cancellationToken = default) =>
        http.PostAsJsonAsync($"/v1/projects/{projectId}/environments/{environment}/keys", body, cancellationToken);

    public async Task<RolledKeyDto> RollKeyAsync(string projectId, string environment, string keyId, int gracePeriodSeconds) =>
        await ReadAsync<RolledKeyDto>(await PostRollAsync(projectId, environment, keyId, gracePeriodSeconds));

    public Task<HttpResponseMessage> PostRollAsync(string projectId, string environment, string keyId, int gracePeriodSeconds) =>
        http.PostAsJsonAsync($"/v1/projects/{projectId}/environments/{environment}/keys/{keyId}:roll", new { gracePeriodSeconds });

    public async Task<AuditListDto> ListAuditEventsAsync(string projectId) =>
        await ReadAsync<AuditListDto>(await http.GetAsync($"/v1/projects/{projectId}/audit"));

    public async Task<ProjectListDto> ListProjectsAsync() =>
        await ReadAsync<ProjectListDto>(await http.GetAsync("/v1/projects"));

    public async Task<KeyListDto> ListKeysAsync(string projectId, string environment) =>
        await ReadAsync<KeyListDto>(await http.GetAsync($"/v1/projects/{projectId}/environments/{environment}/keys"));

    public Task<HttpResponseMessage> DeleteKeyAsync(
        string projectId, string environment, string keyId, string confirmName, CancellationToken cancellationToken = default) =>
        http.DeleteAsync(
            $"/v1/projects/{projectId}/environments/{environment}/keys/{keyId}?confirmName={Uri.EscapeDataString(confirmName)}", cancellationToken);

    public static async Task<T> ReadAsync<T>(HttpResponseMessage response)
    {
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }

        return (await response.Content.ReadFromJsonAsync<T>())!;
    }

    /// <summary>Asserts the status and the stable error code of a failed call.</summary>
    public static async Task<ApiErrorDto> AssertErrorAsync(HttpResponseMessage response, System.Net.HttpStatusCode status, string reason)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"expected {(int)status} {reason}, got {(int)response.StatusCode}: {body}");
        var error = System.Text.Json.JsonSerializer.Deserialize<ApiErrorDto>(body, System.Text.Json.JsonSerializerOptions.Web)!;
        Assert.Equal(reason, error.Reason);
        Assert.False(string.IsNullOrWhiteSpace(error.Message));
        return error;
    }
}
