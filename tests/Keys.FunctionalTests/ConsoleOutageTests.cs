using System.Text.RegularExpressions;
using Keys.FunctionalTests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Keys.FunctionalTests;

/// <summary>The operator console while KeyAdmin is down, on the fault tests' own system, which each test leaves whole again.</summary>
public sealed class ConsoleOutageTests(FaultsAppFixture fixture, ConsoleBrowser browser) : FaultTests, IClassFixture<ConsoleBrowser>
{
    private readonly ConsolePages _pages = new(fixture, browser);

    protected override FaultsAppFixture Faults => fixture;

    public override async Task DisposeAsync()
    {
        await _pages.DisposeAsync();
        await base.DisposeAsync();
    }

    [Fact]
    public async Task ConsoleSaysSoWhenKeyAdminCannotBeReached()
    {
        var project = await fixture.CreateKeyAdminClient().CreateProjectAsync("Console while KeyAdmin is down");
        var page = await _pages.SignedInAtKeysAsync(project, "dev");
        await page.Locator("#secret-keys").GetByRole(AriaRole.Button, new() { Name = "Add Key" }).ClickAsync();
        var dialog = page.GetByRole(AriaRole.Dialog, new() { Name = "Add secret key" });
        await dialog.GetByLabel("Name", new() { Exact = true }).FillAsync("while-down");

        await fixture.StopResourceAsync("key-admin");
        try
        {
            await dialog.GetByRole(AriaRole.Button, new() { Name = "Create", Exact = true }).ClickAsync();
            // Refused or left unanswered (Aspire's proxy may hold the connection): either way, said in words.
            await Expect(dialog.GetByRole(AriaRole.Alert)).ToContainTextAsync(new Regex("KeyAdmin (could not be reached|did not answer within 10 seconds)"));
            await Expect(dialog).ToBeVisibleAsync();
        }
        finally
        {
            await fixture.StartResourceAsync("key-admin");
        }

        // Nothing was lost: the form is still filled in, and the same click now creates the key.
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Create", Exact = true }).ClickAsync();
        await Expect(ConsolePages.KeyRow(page, "secret", "while-down")).ToBeVisibleAsync();
    }
}
