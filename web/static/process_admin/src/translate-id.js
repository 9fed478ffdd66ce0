/* bpmn-js and its properties panel in Indonesian: a `translate` module (the library's own
   mechanism, https://github.com/bpmn-io/bpmn-js-examples/tree/main/i18n) over the words an
   administrator meets in the palette, the context pad, the replace menu and the panel's
   general groups.  A string not listed stays as the library wrote it. */
const ID = {
  'Activate hand tool': 'Alat geser kanvas',
  'Activate lasso tool': 'Alat pilih (laso)',
  'Activate create/remove space tool': 'Alat tambah/hapus ruang',
  'Activate global connect tool': 'Alat sambung',
  'Create start event': 'Buat peristiwa awal',
  'Create intermediate/boundary event': 'Buat peristiwa antara/batas',
  'Create end event': 'Buat peristiwa akhir',
  'Create gateway': 'Buat gerbang',
  'Create task': 'Buat tugas',
  'Create expanded sub-process': 'Buat sub-proses',
  'Create data object reference': 'Buat rujukan objek data',
  'Create data store reference': 'Buat rujukan penyimpanan data',
  'Create group': 'Buat grup',
  'Create pool/participant': 'Buat kolam/peserta',
  'Append end event': 'Tambahkan peristiwa akhir',
  'Append gateway': 'Tambahkan gerbang',
  'Append task': 'Tambahkan tugas',
  'Append intermediate/boundary event': 'Tambahkan peristiwa antara/batas',
  'Append text annotation': 'Tambahkan catatan teks',
  'Add text annotation': 'Tambahkan catatan teks',
  'Append {type}': 'Tambahkan {type}',
  'Change element': 'Ubah jenis elemen',
  'Change type': 'Ubah jenis',
  'Delete': 'Hapus',
  'Remove': 'Hapus',
  'Connect using sequence/message flow or association': 'Sambungkan dengan alur urutan/pesan atau asosiasi',
  'Connect using association': 'Sambungkan dengan asosiasi',
  'Connect using data input association': 'Sambungkan dengan asosiasi masukan data',
  'Connect to other element': 'Sambungkan ke elemen lain',
  'Add lane above': 'Tambah jalur di atas',
  'Add lane below': 'Tambah jalur di bawah',
  'Divide into two lanes': 'Bagi menjadi dua jalur',
  'Divide into three lanes': 'Bagi menjadi tiga jalur',
  'Search in diagram': 'Cari di diagram',
  'Task': 'Tugas',
  'User task': 'Tugas pengguna',
  'Service task': 'Tugas layanan',
  'Script task': 'Tugas skrip',
  'Send task': 'Tugas kirim',
  'Receive task': 'Tugas terima',
  'Manual task': 'Tugas manual',
  'Business rule task': 'Tugas aturan bisnis',
  'Call activity': 'Aktivitas panggilan',
  'Sub-process': 'Sub-proses',
  'Sub-process (collapsed)': 'Sub-proses (tertutup)',
  'Sub-process (expanded)': 'Sub-proses (terbuka)',
  'Start event': 'Peristiwa awal',
  'End event': 'Peristiwa akhir',
  'Intermediate throw event': 'Peristiwa antara (lempar)',
  'Message start event': 'Peristiwa awal pesan',
  'Timer start event': 'Peristiwa awal waktu',
  'Message intermediate catch event': 'Peristiwa antara menunggu pesan',
  'Message intermediate throw event': 'Peristiwa antara mengirim pesan',
  'Timer intermediate catch event': 'Peristiwa antara waktu',
  'Message end event': 'Peristiwa akhir pesan',
  'Terminate end event': 'Peristiwa akhir penghentian',
  'Exclusive gateway': 'Gerbang eksklusif',
  'Parallel gateway': 'Gerbang paralel',
  'Inclusive gateway': 'Gerbang inklusif',
  'Event-based gateway': 'Gerbang berbasis peristiwa',
  'Sequence flow': 'Alur urutan',
  'Default flow': 'Alur bawaan',
  'Conditional flow': 'Alur bersyarat',
  'Message': 'Pesan',
  'Timer': 'Waktu',
  'General': 'Umum',
  'Name': 'Nama',
  'ID': 'ID',
  'Documentation': 'Dokumentasi',
  'Element documentation': 'Dokumentasi elemen',
  'Process documentation': 'Dokumentasi proses',
  'Executable': 'Dapat dijalankan',
  'Version tag': 'Tanda versi',
  'Type': 'Jenis',
  'Value': 'Nilai',
  'Condition': 'Syarat',
  'Condition expression': 'Ekspresi syarat',
  'Create new ...': 'Buat baru ...',
  'Global message reference': 'Rujukan pesan global',
  'Message name': 'Nama pesan',
  'Timer type': 'Jenis waktu',
  'Date': 'Tanggal',
  'Duration': 'Durasi',
  'Cycle': 'Siklus',
  'Value is not a valid ID.': 'Nilai ini bukan ID yang sah.',
  'Element must have an unique ID.': 'ID elemen harus unik.',
  'ID must not be empty.': 'ID tidak boleh kosong.',
  'ID must not contain spaces.': 'ID tidak boleh berisi spasi.',
  'ID must be a valid QName.': 'ID harus berupa QName yang sah.',
  'Process ID': 'ID proses',
  'Participant': 'Peserta',
  'Lane': 'Jalur',
  'Extension properties': 'Properti tambahan',
  'Add': 'Tambah',
  'Inputs': 'Masukan',
  'Outputs': 'Keluaran',
  'Multi-instance': 'Multi-instans',
  'Loop characteristics': 'Karakteristik perulangan',
  '<none>': '<tidak ada>',
  '<empty>': '<kosong>'
};

export function translateFor(locale) {
  const table = String(locale || '').toLowerCase().startsWith('id') ? ID : {};
  return function translate(template, replacements) {
    replacements = replacements || {};
    const text = table[template] || template;
    return text.replace(/{([^}]+)}/g, (_, key) => (key in replacements ? translateFor(locale)(replacements[key]) : '{' + key + '}'));
  };
}

export default function translateModule(locale) {
  return { translate: ['value', translateFor(locale)] };
}

/* The form-js editor has no translate service for its palette: its entries are named by each
   field type's `config.name`, so a module renames them before the palette is drawn. */
const FORM_FIELDS_ID = {
  'Text field': 'Kolom teks',
  'Text area': 'Area teks',
  'Number': 'Angka',
  'Date time': 'Tanggal/waktu',
  'Expression': 'Ekspresi',
  'Checkbox': 'Kotak centang',
  'Checkbox group': 'Grup kotak centang',
  'Radio group': 'Grup pilihan',
  'Select': 'Daftar pilihan',
  'Tag list': 'Daftar tag',
  'Text view': 'Teks',
  'HTML view': 'Tampilan HTML',
  'Image view': 'Gambar',
  'Table': 'Tabel',
  'Spacer': 'Spasi',
  'Separator': 'Pemisah',
  'Group': 'Grup',
  'Dynamic list': 'Daftar dinamis',
  'iFrame': 'iFrame',
  'Button': 'Tombol',
  'Document preview': 'Pratinjau dokumen',
  'File picker': 'Pemilih berkas'
};

export function formEditorModule(locale) {
  const indonesian = String(locale || '').toLowerCase().startsWith('id');
  function SimpulFormFieldNames(formFields) {
    if (!indonesian) { return; }
    Object.values(formFields._formFields || {}).forEach((field) => {
      const config = field && field.config;
      if (config && FORM_FIELDS_ID[config.name]) {
        field.config = Object.assign({}, config, { name: FORM_FIELDS_ID[config.name] });
      }
    });
  }
  SimpulFormFieldNames.$inject = ['formFields'];
  return {
    __init__: ['simpulFormFieldNames'],
    simpulFormFieldNames: ['type', SimpulFormFieldNames],
    translate: ['value', translateFor(locale)]
  };
}
