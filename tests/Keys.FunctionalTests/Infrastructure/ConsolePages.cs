using System.Text.RegularExpressions;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Keys.FunctionalTests.Infrastructure;

public sealed record OperatorDto(
    string Id,
    string Name,
    string Role,
    IReadOnlyList<string> ProjectIds,
    string MaskedToken,
    DateTimeOffset? CreatedAt,
    string CreatedBy,
    DateTimeOffset? ExpiresAt,
    DateTimeOffset? RevokedAt,
    string? RevokedBy);

public sealed record CreatedOperatorDto(OperatorDto Operator, string Token);

public sealed record OperatorListDto(IReadOnlyList<OperatorDto> Operators);

/// <summary>The operator console's pages for one test, each in a fresh browser profile; disposing closes them all.</summary>
public sealed class ConsolePages(KeysAppFixture fixture, ConsoleBrowser browser) : IAsyncDisposable
{
    private static readonly System.Text.Json.JsonSerializerOptions OmitNulls = new(System.Text.Json.JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
    };

    private readonly List<IBrowserContext> _contexts = [];

    public Uri KeyAdminAddress => fixture.App.GetEndpoint("key-admin", "http");

    public async Task<IPage> NewPageAsync()
    {
        var page = await browser.NewPageAsync(KeyAdminAddress);
        _contexts.Add(page.Context);
        return page;
    }

    /// <summary>
    /// A page signed in with <paramref name="token"/> (the admin token unless given), at the keys of
    /// <paramref name="project"/> in <paramref name="environment"/>.
    /// </summary>
    public async Task<IPage> SignedInAtKeysAsync(ProjectDto project, string environment, string? token = null)
    {
        var page = await NewPageAsync();
        await page.GotoAsync($"/#/projects/{project.Id}/environments/{environment}/keys");
        await SignInAsync(page, token);
        await Expect(page.Locator("#main")).ToContainTextAsync($"Keys of {project.Name} in the {environment} environment");
        return page;
    }

    /// <summary>Signs in with <paramref name="token"/>, the admin token unless given, and waits for the top bar to name who.</summary>
    public async Task SignInAsync(IPage page, string? token = null)
    {
        await page.GetByLabel("Operator token").FillAsync(token ?? fixture.AdminToken);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Expect(page.Locator("#app-view")).ToBeVisibleAsync();
        await Expect(page.Locator("#signed-in-as")).ToBeVisibleAsync();
    }

    /// <summary>An operator created through the REST API with the admin token, as an owner would.</summary>
    public async Task<CreatedOperatorDto> CreateOperatorAsync(
        string role, string? name = null, IReadOnlyList<string>? projectIds = null, DateTimeOffset? expiresAt = null)
    {
        var admin = fixture.CreateKeyAdminClient();
        var response = await admin.Http.PostAsJsonAsync("/v1/operators", new
        {
            name = name ?? $"{role}-{Guid.NewGuid().ToString("N")[..8]}",
            role,
            projectIds = projectIds ?? [],
            expiresAt = expiresAt?.UtcDateTime,
        }, OmitNulls);
        return await KeyAdminClient.ReadAsync<CreatedOperatorDto>(response);
    }

    /// <summary>Every operator, revoked and expired ones included, as GET /v1/operators lists them.</summary>
    public async Task<IReadOnlyList<OperatorDto>> ListOperatorsAsync() =>
        (await KeyAdminClient.ReadAsync<OperatorListDto>(await fixture.CreateKeyAdminClient().Http.GetAsync("/v1/operators"))).Operators;

    /// <summary>The row of the key named <paramref name="name"/> in the section of its <paramref name="type"/>.</summary>
    public static ILocator KeyRow(IPage page, string type, string name) =>
        page.Locator($"#{type}-keys tbody tr").Filter(new() { Has = page.Locator(".key-name", new() { HasTextRegex = new Regex($"^{Regex.Escape(name)}$") }) });

    /// <summary>The row of the operator named <paramref name="name"/> on the Operators page.</summary>
    public static ILocator OperatorRow(IPage page, string name) =>
        page.Locator("#operators tbody tr").Filter(new() { Has = page.Locator(".key-name", new() { HasTextRegex = new Regex($"^{Regex.Escape(name)}$") }) });

    public async ValueTask DisposeAsync()
    {
        foreach (var context in _contexts)
        {
            await context.CloseAsync();
        }
    }
}
