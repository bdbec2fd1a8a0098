"""The national public-service portal's dossier sync (DVCQG `DongBoHoSoMC`, `CapNhatTienDoHoSoMC`),
accepted unchanged: liberal reading of its values, dossier states turned into contract v2 events,
sessions backed by writer keys, and agency codes resolved to units. docs/integration.md says how a
province connects."""
