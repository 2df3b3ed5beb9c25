using Keys.KeyValidation;
using Keys.KeyValidation.Grpc;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddApplicationServices();

var app = builder.Build();

app.MapDefaultEndpoints();
app.MapGrpcService<ValidationApi>();
app.MapGrpcHealthChecksService();
// No credential, unlike the services it describes: it tells their shapes, never data, and only in Development.
if (app.Environment.IsDevelopment()) app.MapGrpcReflectionService();

app.Run();
