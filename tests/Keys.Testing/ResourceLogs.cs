using System.Globalization;
using Microsoft.Extensions.Logging;

namespace Keys.Testing;

/// <summary>
/// Where the output of a started system goes: every resource's lines (Postgres, Redis, the services) and the AppHost's
/// own messages, into one file under <c>artifacts/logs</c>, so that a terminal shows the run's progress and results
/// rather than Postgres's ordinary stderr dressed as <c>fail:</c>. <c>KEYS_TEST_LOGS=1</c> prints them all on the
/// console as well, for a run that needs explaining as it goes.
/// </summary>
public sealed class ResourceLogs : ILoggerProvider
{
    /// <summary>Set to 1, resource logs are printed on the console too.</summary>
    public const string PrintVariable = "KEYS_TEST_LOGS";

    // Enough for a few days of runs; the oldest go, so that the folder does not grow without end.
    private const int FilesKept = 30;

    private readonly StreamWriter _writer;
    private readonly Lock _gate = new();
    private readonly string _resourcesPrefix;
    private bool _disposed;

    public ResourceLogs(string name, string applicationName)
    {
        var directory = Repository.Artifacts("logs");
        foreach (var old in directory.GetFiles("*.log").OrderByDescending(f => f.LastWriteTimeUtc).Skip(FilesKept - 1))
        {
            old.Delete();
        }

        Path = System.IO.Path.Combine(directory.FullName, $"{name}-{DateTime.Now:yyyyMMdd-HHmmss}-{Environment.ProcessId}.log");
        var file = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.Read };
        if (!OperatingSystem.IsWindows())
        {
            // Services may one day log what they should not: the file is the owner's alone, like the data directory.
            file.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        _writer = new StreamWriter(new FileStream(Path, file))
        {
            // A run that hangs is killed: what it wrote until then is what explains it.
            AutoFlush = true,
        };
        _resourcesPrefix = applicationName + ".Resources.";
    }

    public static bool Printed => Environment.GetEnvironmentVariable(PrintVariable) == "1";

    public string Path { get; }

    /// <summary>The file from the repository root, for a message to name.</summary>
    public string RelativePath => System.IO.Path.GetRelativePath(Repository.Root, Path);

    /// <summary>
    /// Sends the AppHost's logging here, and to the console only when <see cref="PrintVariable"/> asks for it. The
    /// AppHost's own settings (Information for all) would otherwise print everything the resources write.
    /// </summary>
    public void AddTo(ILoggingBuilder logging)
    {
        logging.ClearProviders();
        logging.AddProvider(this);
        logging.AddFilter<ResourceLogs>(null, LogLevel.Information);
        // The test's or benchmark's own HTTP calls: four lines each, and none about the system.
        logging.AddFilter<ResourceLogs>("System.Net.Http", LogLevel.Warning);
        logging.AddFilter<ResourceLogs>("Aspire.Hosting.Dcp", LogLevel.Warning);
        if (Printed)
        {
            logging.AddSimpleConsole().SetMinimumLevel(LogLevel.Information);
        }
    }

    public ILogger CreateLogger(string categoryName) => new FileLogger(this, Source(categoryName));

    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            _writer.Dispose();
        }
    }

    // A resource's lines are named by the resource alone; everything else by its logger's category.
    private string Source(string category) => category.StartsWith(_resourcesPrefix, StringComparison.Ordinal) ? category[_resourcesPrefix.Length..] : category;

    private void Write(string source, LogLevel level, string message, Exception? exception)
    {
        var line = string.Create(CultureInfo.InvariantCulture, $"{DateTime.Now:HH:mm:ss.fff} {Abbreviation(level)} {source}: {message}");
        lock (_gate)
        {
            // Aspire may still forward a last line while the app is disposed.
            if (!_disposed)
            {
                _writer.WriteLine(exception is null ? line : $"{line}{Environment.NewLine}{exception}");
            }
        }
    }

    private static string Abbreviation(LogLevel level) => level switch
    {
        LogLevel.Trace => "trce",
        LogLevel.Debug => "dbug",
        LogLevel.Information => "info",
        LogLevel.Warning => "warn",
        LogLevel.Error => "fail",
        _ => "crit",
    };

    private sealed class FileLogger(ResourceLogs logs, string source) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            logs.Write(source, logLevel, formatter(state, exception), exception);
    }
}
