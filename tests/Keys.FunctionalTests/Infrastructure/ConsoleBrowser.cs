using Microsoft.Playwright;

namespace Keys.FunctionalTests.Infrastructure;

/// <summary>
/// One headless Debian Chromium for a test class, driven by Playwright. Playwright's own browser download does not
/// work here (or on a fresh Debian machine without network to its CDN), so it drives the distribution's binary,
/// which <c>./keys test</c> installs.
/// </summary>
public sealed class ConsoleBrowser : IAsyncLifetime
{
    public static string ExecutablePath => Environment.GetEnvironmentVariable("KEYS_CHROMIUM") ?? "/usr/bin/chromium";

    /// <summary>Where screenshots go: <c>artifacts/console</c> at the repository root.</summary>
    public static DirectoryInfo ArtifactsDirectory { get; } = Repository.Artifacts("console");

    private IPlaywright? _playwright;

    public IBrowser Browser { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        if (!File.Exists(ExecutablePath))
        {
            throw new InvalidOperationException(
                $"No Chromium at {ExecutablePath}. Install Debian's chromium (./keys test does), or set KEYS_CHROMIUM.");
        }

        // Slow CI machines: the default 5 s for a web-first assertion is too tight while the system warms up.
        Assertions.SetDefaultExpectTimeout(15_000);
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ExecutablePath,
            Headless = true,
            // Without these, Chromium keeps reaching for Google's hosts, which this machine's closed network refuses.
            Args = ["--disable-gpu", "--disable-background-networking", "--disable-quic", "--disable-component-update", "--no-first-run"],
        });
    }

    /// <summary>A page in a fresh browser profile, relative to KeyAdmin, allowed to use the clipboard.</summary>
    public async Task<IPage> NewPageAsync(Uri keyAdmin)
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = keyAdmin.ToString(),
            ViewportSize = new ViewportSize { Width = 1280, Height = 900 },
            Permissions = ["clipboard-read", "clipboard-write"],
            // Relative times and dates are checked as text, so whatever the machine's settings, the browser's are fixed.
            Locale = "en-US",
            TimezoneId = "UTC",
        });
        context.SetDefaultTimeout(15_000);
        return await context.NewPageAsync();
    }

    /// <summary>
    /// A full-page screenshot in <see cref="ArtifactsDirectory"/>, with <paramref name="hide"/> painted over: an
    /// artifact is no place for a secret key, even a test one.
    /// </summary>
    public static async Task SaveScreenshotAsync(IPage page, string name, params ILocator[] hide)
    {
        await page.ScreenshotAsync(new PageScreenshotOptions
        {
            Path = Path.Combine(ArtifactsDirectory.FullName, $"{name}.png"),
            FullPage = true,
            Mask = hide,
            MaskColor = "#9ca3af",
        });
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.CloseAsync();
        }

        _playwright?.Dispose();
    }
}
