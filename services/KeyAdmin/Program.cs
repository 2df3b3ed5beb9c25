using Keys.KeyAdmin;
using Keys.KeyAdmin.Grpc;
using Keys.KeyAdmin.OperatorConsole;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddApplicationServices();

var app = builder.Build();

app.MapDefaultEndpoints();
app.UseOperatorConsole();
app.UseRestUpdateMask();
app.UseSwagger(options => options.RouteTemplate = "openapi/{documentName}.json");
app.MapGrpcService<ManagementApi>();
app.MapGrpcService<InternalApi>();
app.MapGrpcHealthChecksService();
// No credential, unlike the services it describes: it tells their shapes, never data, and only in Development.
if (app.Environment.IsDevelopment()) app.MapGrpcReflectionService();

app.Run();
