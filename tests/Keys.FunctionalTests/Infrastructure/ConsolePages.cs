using System.Text.RegularExpressions;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Keys.FunctionalTests.Infrastructure;

/// <summary>The operator console's pages for one test, each in a fresh browser profile; disposing closes them all.</summary>
public sealed class ConsolePages(KeysAppFixture fixture, ConsoleBrowser browser) : IAsyncDisposable
{
    private readonly List<IBrowserContext> _contexts = [];

    public Uri KeyAdminAddress => fixture.App.GetEndpoint("key-admin", "http");

    public async Task<IPage> NewPageAsync()
    {
        var page = await browser.NewPageAsync(KeyAdminAddress);
        _contexts.Add(page.Context);
        return page;
    }

    /// <summary>A page signed in with the admin token, at the keys of <paramref name="project"/> in <paramref name="environment"/>.</summary>
    public async Task<IPage> SignedInAtKeysAsync(ProjectDto project, string environment)
    {
        var page = await NewPageAsync();
        await page.GotoAsync($"/#/projects/{project.Id}/environments/{environment}/keys");
        await SignInAsync(page);
        await Expect(page.Locator("#main")).ToContainTextAsync($"Keys of {project.Name} in the {environment} environment");
        return page;
    }

    public async Task SignInAsync(IPage page)
    {
        await page.GetByLabel("Admin token").FillAsync(fixture.AdminToken);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Expect(page.Locator("#app-view")).ToBeVisibleAsync();
    }

    /// <summary>The row of the key named <paramref name="name"/> in the section of its <paramref name="type"/>.</summary>
    public static ILocator KeyRow(IPage page, string type, string name) =>
        page.Locator($"#{type}-keys tbody tr").Filter(new() { Has = page.Locator(".key-name", new() { HasTextRegex = new Regex($"^{Regex.Escape(name)}$") }) });

    public async ValueTask DisposeAsync()
    {
        foreach (var context in _contexts)
        {
            await context.CloseAsync();
        }
    }
}
